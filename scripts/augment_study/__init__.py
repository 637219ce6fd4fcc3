"""The GAN data augmentation study (docs/augment_study.md), run as `python scripts/augment_study`
(`__main__.py`, `make augment-study`): plan, stages (Hydra multiruns), runner, reading runs back,
statistics, table and plot."""
