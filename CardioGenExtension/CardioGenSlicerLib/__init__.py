"""What every CardioGen Slicer module shares: MRML bridge, background runner, dependency install."""
