"""Session states and the `--until` conditions (jules-api.md 5.1).

Standard library only and import-free: a TAB press completing `--state` or `--until`
reads these without loading the follow engine.
"""

STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
QUEUED = "QUEUED"
PLANNING = "PLANNING"
AWAITING_PLAN_APPROVAL = "AWAITING_PLAN_APPROVAL"
AWAITING_USER_FEEDBACK = "AWAITING_USER_FEEDBACK"
IN_PROGRESS = "IN_PROGRESS"
PAUSED = "PAUSED"
FAILED = "FAILED"
COMPLETED = "COMPLETED"

# All nine values, in the order of the API reference.
ALL_STATES: tuple[str, ...] = (
    STATE_UNSPECIFIED,
    QUEUED,
    PLANNING,
    AWAITING_PLAN_APPROVAL,
    AWAITING_USER_FEEDBACK,
    IN_PROGRESS,
    PAUSED,
    FAILED,
    COMPLETED,
)
# The states a session rests in until something happens (not strictly final: see 5.1).
DONE_STATES: tuple[str, ...] = (COMPLETED, FAILED)
# The states in which the session cannot progress without someone.
USER_STATES: tuple[str, ...] = (AWAITING_PLAN_APPROVAL, AWAITING_USER_FEEDBACK, PAUSED)
# What `--until` accepts as a state name.
WAITABLE_STATES: tuple[str, ...] = tuple(s for s in ALL_STATES if s != STATE_UNSPECIFIED)
CONDITION_DONE = "done"
CONDITION_SETTLED = "settled"
# Every value `--until` accepts, for help text and shell completion.
CONDITION_CHOICES: tuple[str, ...] = (CONDITION_DONE, CONDITION_SETTLED, *WAITABLE_STATES)
