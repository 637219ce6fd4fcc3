"""Applications of the GAN: image completion by GAN inversion (`inpaint`, `masks`, `baselines`,
`quality`) and GAN data augmentation for the classifier (`augment`)."""
