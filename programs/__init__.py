"""The course's programs: the training script, the benchmark and the recipe sweep (not imported by lessons)."""
