"""Transition tables of the toy-text environments, in Gymnasium's ``P`` format.

``P[s][a]`` lists the outcomes ``(probability, next_state, reward, terminated)`` in the
order Gymnasium lists them (the order fixes which outcome a uniform draw selects), and
``initial`` is the initial-state distribution. :func:`padded` turns a table into the
arrays the compiled kernels read.
"""

import numpy as np

FROZEN_LAKE_MAPS = {
    "4x4": ["SFFF", "FHFH", "FFFH", "HFFG"],
    "8x8": ["SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF",
            "FHFFHFHF", "FFFHFFFG"],
}


def frozen_lake(map_name="4x4", is_slippery=True, desc=None, success_rate=1.0 / 3.0,
                reward_schedule=(1, 0, 0)):
    """FrozenLake: actions left, down, right, up; a slippery move goes to the intended
    direction with ``success_rate`` and to either perpendicular one with the rest / 2.
    Reaching G pays ``reward_schedule[0]``; G and H end the episode."""
    rows = FROZEN_LAKE_MAPS[map_name] if desc is None else list(desc)
    nrow, ncol = len(rows), len(rows[0])
    fail_rate = (1.0 - success_rate) / 2.0

    def move(row, col, a):
        if a == 0:
            col = max(col - 1, 0)
        elif a == 1:
            row = min(row + 1, nrow - 1)
        elif a == 2:
            col = min(col + 1, ncol - 1)
        else:
            row = max(row - 1, 0)
        letter = rows[row][col]
        reward = reward_schedule["GHF".index(letter if letter in "GHF" else "F")]
        return row * ncol + col, reward, letter in "GH"

    P = {}
    for row in range(nrow):
        for col in range(ncol):
            s = row * ncol + col
            P[s] = {}
            for a in range(4):
                if rows[row][col] in "GH":
                    P[s][a] = [(1.0, s, 0, True)]
                elif is_slippery:
                    P[s][a] = [(success_rate if b == a else fail_rate, *move(row, col, b))
                               for b in ((a - 1) % 4, a, (a + 1) % 4)]
                else:
                    P[s][a] = [(1.0, *move(row, col, a))]
    initial = np.array([c == "S" for r in rows for c in r], dtype=np.float64)
    return P, initial / initial.sum()


_TAXI_MAP = ["+---------+", "|R: | : :G|", "| : | : : |", "| : : : : |", "| | : | : |",
             "|Y| : |B: |", "+---------+"]
_TAXI_LOCS = [(0, 0), (0, 4), (4, 0), (4, 3)]


def taxi_encode(row, col, passenger, destination):
    """Taxi state index: ((row * 5 + col) * 5 + passenger) * 4 + destination."""
    return ((row * 5 + col) * 5 + passenger) * 4 + destination


def taxi():
    """Taxi (dry, not fickle): south, north, east, west, pickup, dropoff; -1 per step,
    -10 for an illegal pickup/dropoff, +20 for delivering (which ends the episode)."""
    P = {}
    initial = np.zeros(500)
    for row in range(5):
        for col in range(5):
            for passenger in range(5):
                for dest in range(4):
                    s = taxi_encode(row, col, passenger, dest)
                    if passenger < 4 and passenger != dest:
                        initial[s] += 1
                    P[s] = {a: [_taxi_outcome(row, col, passenger, dest, a)] for a in range(6)}
    return P, initial / initial.sum()


def _taxi_outcome(row, col, passenger, dest, action):
    new_row, new_col, new_passenger = row, col, passenger
    reward, terminated = -1, False
    here = (row, col)
    if action == 0:
        new_row = min(row + 1, 4)
    elif action == 1:
        new_row = max(row - 1, 0)
    if action == 2 and _TAXI_MAP[1 + row][2 * col + 2] == ":":
        new_col = min(col + 1, 4)
    elif action == 3 and _TAXI_MAP[1 + row][2 * col] == ":":
        new_col = max(col - 1, 0)
    elif action == 4:
        if passenger < 4 and here == _TAXI_LOCS[passenger]:
            new_passenger = 4
        else:
            reward = -10
    elif action == 5:
        if here == _TAXI_LOCS[dest] and passenger == 4:
            new_passenger, terminated, reward = dest, True, 20
        elif here in _TAXI_LOCS and passenger == 4:
            new_passenger = _TAXI_LOCS.index(here)
        else:
            reward = -10
    return (1.0, taxi_encode(new_row, new_col, new_passenger, dest), reward, terminated)


def cliff_walking(is_slippery=False):
    """CliffWalking on a 4 x 12 grid: up, right, down, left; -1 per step, stepping into
    the cliff (row 3, columns 1..10) costs -100 and returns to the start (3, 0); the goal
    (3, 11) ends the episode. Slippery moves go to either perpendicular direction too,
    each outcome with probability 1/3."""
    deltas = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}
    start = 3 * 12
    P = {}
    for s in range(48):
        row, col = divmod(s, 12)
        P[s] = {}
        for a in range(4):
            moves = [(a - 1) % 4, a, (a + 1) % 4] if is_slippery else [a]
            outcomes = []
            for m in moves:
                r = min(max(row + deltas[m][0], 0), 3)
                c = min(max(col + deltas[m][1], 0), 11)
                if r == 3 and 1 <= c <= 10:
                    outcomes.append((1 / len(moves), start, -100, False))
                else:
                    outcomes.append((1 / len(moves), r * 12 + c, -1, (r, c) == (3, 11)))
            P[s][a] = outcomes
    initial = np.zeros(48)
    initial[start] = 1.0
    return P, initial


def padded(P, initial):
    """Arrays (S, A, K) of next states, probabilities, their cumulative sums (padding -1),
    rewards and termination flags, and the cumulative initial distribution."""
    S, A = len(P), len(P[0])
    K = max(len(P[s][a]) for s in range(S) for a in range(A))
    next_state = np.zeros((S, A, K), dtype=np.int64)
    prob = np.zeros((S, A, K))
    cum = np.full((S, A, K), -1.0)
    reward = np.zeros((S, A, K))
    done = np.zeros((S, A, K), dtype=np.bool_)
    for s in range(S):
        for a in range(A):
            outcomes = P[s][a]
            n = len(outcomes)
            prob[s, a, :n] = [o[0] for o in outcomes]
            cum[s, a, :n] = np.cumsum(prob[s, a, :n])
            next_state[s, a, :n] = [o[1] for o in outcomes]
            reward[s, a, :n] = [o[2] for o in outcomes]
            done[s, a, :n] = [o[3] for o in outcomes]
    return next_state, prob, cum, reward, done, np.cumsum(initial)
