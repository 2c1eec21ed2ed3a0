"""The soak: each pattern driven with volume while seeded faults are injected, its books balanced
from the end state (engine.py, a driver per pattern). `make soak` runs the full volume
(scripts/soak.py); the small seeded soak runs in `make test` (test_<pattern>.py)."""
