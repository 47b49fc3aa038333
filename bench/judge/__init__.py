"""Judging a run from its records: the score P (:mod:`~bench.judge.scoring`), constraints, the Pareto front and the
recommendation (:mod:`~bench.judge.decide`), and money and capacity (:mod:`~bench.judge.cost`). The judge only reads
records; it never imports the runner or measures anything."""
