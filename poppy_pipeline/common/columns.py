"""The column lists that several domains share: one declaration each.

`INTERACTION_COLUMNS` is the `simulated_interactions` table (the simulation's, or a real log read
into it); its first seven are seed 000's log (`POPPY_LOG_COLUMNS`). `APP_INTERACTION_COLUMNS` is
the Poppy app's `Interactions` table in its database.
"""

INTERACTION_COLUMNS = [
    "Interaction_ID",
    "User_ID",
    "Object_Type",
    "Object_ID",
    "Interaction_Type",
    "Interaction_Rating",
    "Timestamp",
    "Session_ID",
    "Watch_Time_Sec",
]
POPPY_LOG_COLUMNS = INTERACTION_COLUMNS[:7]
APP_INTERACTION_COLUMNS = [
    "Interaction_ID",
    "User_ID",
    "Object_Type",
    "Object_Reference_ID",
    "Interaction_Type",
    "Interaction_Rating",
    "Interaction_Timestamp",
]

# Seed 001's 20 sliding-window features, in its order (`behaviour/features.py` computes them).
WINDOW_FEATURE_NAMES: tuple[str, ...] = (
    "time_since_last_action",
    "avg_time_between_actions",
    "session_duration",
    "scroll_down_count",
    "scroll_up_count",
    "click_count",
    "hover_count",
    "blur_count",
    "focus_count",
    "wait_count",
    "close_tab_count",
    "scroll_depth_max",
    "interaction_density",
    "attention_score",
    "scroll_velocity_avg",
    "click_to_hover_ratio",
    "blur_frequency",
    "action_entropy",
    "burstiness_score",
    "engagement_rhythm",
)
