"""Applications of the GAN: image completion by GAN inversion (`inpaint`: inversion, masks,
baselines, quality, report) and GAN data augmentation for the classifier (`augment`). Both read
their checkpoints through `cnngan.checkpoints.model.load_model`."""
