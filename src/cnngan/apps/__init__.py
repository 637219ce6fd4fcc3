"""Applications of the GAN: image completion by GAN inversion (`inversion`, `masks`, `baselines`,
`quality`, `completion_report`), GAN data augmentation for the classifier (`augment`), and the one
loader of a GAN checkpoint they and the commands share (`gan_checkpoint`)."""
