"""`make bench`: a plain PyTorch loop and cnngan side by side, in one process (scripts/benchmark.py).

Modules: contenders (what runs, as config overrides), batches + plain (the hand-written loops),
cnngan_side (Lightning fit), interleave (a cnngan/plain pair in alternating blocks of one fit),
timing, rounds + stats (alternating pairs, geometric means and t-intervals), task (one model's
rounds), presets (--quick, --full, the duration estimate), flops + peak + utilisation (the
step's counted FLOPs against the machine's measured peak), results (results.json with machine
and commit), table (the tables of docs/speed.md from results.json), gan_profile (torch.profiler of the GAN
step), startup (time to the first optimizer step), cli.
"""
