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
