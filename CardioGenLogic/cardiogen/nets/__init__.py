"""Network building blocks shared by the models (warping, velocity integration, attention, U-Net stages)."""
