"""What the two papers compare and what they report, declared once.

The strategies and methods name the rows of every report, figure and study; the headline figures are
quoted next to fedsplit's own numbers by the console lines, the reports' summaries, the studies and the
benches. The channel states are a workbook value and live with its schema (data/schema.CHANNEL_STATES).
"""

from __future__ import annotations

# FedsLLM (Section IV, Fig. 2): the proposed allocation against equal bandwidth (eta optimised), a fixed eta,
# and both (the basic allocation).
FEDSLLM_STRATEGIES = ("Proposed", "EB", "FE", "BA")
# CARD (Figs. 3-4): Algorithm 1 against the two benchmarks; key: the StateResult attribute holding each one's
# decisions.
CARD_METHODS = {"card": "CARD", "server_only": "server-only", "device_only": "device-only"}

PAPER_REDUCTION_VS_BA = 0.4763  # FedsLLM: Proposed 47.63 % below BA on average (Fig. 2)
PAPER_DELAY_REDUCTION = 0.708  # CARD: delay 70.8 % below device-only
PAPER_ENERGY_REDUCTION = 0.531  # CARD: server energy 53.1 % below server-only

