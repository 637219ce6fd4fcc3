"""The GAN data augmentation study behind scripts/augmentation_study.py: plan, stages (Hydra
multiruns), runner, reading runs back, statistics, table and plot."""
