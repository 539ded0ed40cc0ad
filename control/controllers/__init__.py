"""The control loops other than the scheduler: each a pure planner plus a thin shell."""
