"""One way to show a model-vs-model metric table, on the Train and Checkpoints pages alike."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ragviz.safety.safe_text import md_escape
from ragviz.ui.projector import table_height, table_slot

MAX_HEIGHT = 620
TASK_PX = 140
NUMBER_PX = 100


def comparison_dataframe(table: pd.DataFrame) -> None:
    """Every row visible when it fits (the means sit last), numbers to three places."""
    height = table_height(len(table), MAX_HEIGHT)
    config = {
        "task": st.column_config.TextColumn("task", width=TASK_PX),
        "zero-shot": st.column_config.TextColumn("zero-shot", width="small"),
        **{c: st.column_config.NumberColumn(c, format="%.3f", width=NUMBER_PX, help=md_escape(c))
           for c in table.columns[2:]},
    }
    with table_slot("metric_table"):
        st.dataframe(table, hide_index=True, width="stretch", height=height, column_config=config,
                     placeholder="")
