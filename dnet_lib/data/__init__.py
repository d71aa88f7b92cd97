"""Datasets for the book: Fashion-MNIST, CIFAR-10 and the Kaggle house prices.

One concern per module:

* ``sources``: which files each dataset has (names, md5s), where they live (``data_root``:
  ``$DNET_DATA_DIR``, else ``../shared/data`` beside the repository, else its git-ignored
  ``data/``; outside a checkout ``~/.cache/dnet_lib/data``) and where they come from
  (``data_source``; ``$DNET_DATA_MIRROR`` replaces the upstream mirrors).
* ``fetch``: md5 checks and the set-up, ``ensure_data`` (``python -m dnet_lib.data``, run by
  ``make data``), built on torchvision's ``download_url``. A loader that finds nothing downloads
  the same way, except when ``DNET_OFFLINE=1`` (the tests set it): then it raises a
  ``DataError`` naming the set-up command.
* ``fashion_mnist``, ``cifar``, ``houses``: one reader per dataset.
* ``loader``: ``DeviceLoader`` keeps a whole dataset as one uint8 tensor on the device and
  builds every batch there; ``load_data_fashion_mnist`` returns a pair of them.
"""
from .cifar import CIFAR10_CLASSES, load_cifar10
from .fashion_mnist import Split, load_fashion_mnist, read_idx
from .fetch import checked_file, ensure_data, md5sum
from .houses import load_house_price_tensors, load_house_prices, preprocess_house_prices
from .loader import (DeviceLoader, balanced_subset, dataset_stats, load_data_cifar10,
                     load_data_fashion_mnist, make_loaders)
from .sources import (DATA_SOURCES, DATASETS, FASHION_MNIST_CLASSES, FASHION_MNIST_FILES,
                      HOUSE_PRICE_FILES, MIRROR_ENV, SETUP_COMMAND, DataError, data_root, data_source,
                      dataset_dir, downloads_allowed, find_data_dir)
