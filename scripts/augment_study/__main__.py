"""GAN data augmentation study (docs/augment_study.md): does a classifier trained on k real images
per class gain from a conditional GAN's samples, and with which lever?

Stages, each one Hydra multirun over the runs that have no metrics.json yet (so an interrupted
study resumes where it stopped), commands printed and saved in <out>/commands.txt:
  1. k_classifiers  the CNN on the k images per class (seed 0): filter and pseudo-labels
  2. gans           conditional GAN on the k images per class, budget chosen on validation FID
  3. gans_all       conditional GAN on all training images, labelled by the k-classifier
  4. gan_scores     cnngan-eval of each GAN: FID on the test split, CAS
  5. classifiers    cnngan-train -m experiment=augment_classifier hparams_search=augment_grid
Then results.md / results.csv / results.json / results.png in <out>.

    python scripts/augment_study                    # reduced (make augment-study)
    python scripts/augment_study --full             # the full study (hours)
    python scripts/augment_study --k 10 --seeds 1 2 --levers ratio_05 ratio_2
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python scripts/augment_study` puts this folder first on sys.path; the study imports itself as
# the package `augment_study` and its neighbour `run_logged` from scripts/, so scripts/ goes there
# instead (the study's module names, e.g. `stats`, must not shadow libraries' top-level modules).
HERE = Path(__file__).resolve().parent
if Path(sys.path[0] or ".").resolve() == HERE:
    sys.path[0] = str(HERE.parent)
elif str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from augment_study.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
