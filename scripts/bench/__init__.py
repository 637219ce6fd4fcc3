"""`make bench`: a plain PyTorch loop and cnngan side by side, in one process (scripts/benchmark.py).

Modules: contenders (what runs, as config overrides), batches + plain (the hand-written loops),
cnngan_side (Lightning fit), timing, rounds + stats (alternating pairs, medians, spread),
results (results.json with machine and commit), table (README table from results.json),
gan_profile (torch.profiler of the GAN step), startup (time to the first optimizer step), cli.
"""
