"""Datasets for the book: Fashion-MNIST and the Kaggle house prices.

``sources``: the files, their md5s, the data folder (``data_root``), the mirrors and the
set-up ``ensure_data`` (``make data``). ``readers``: one reader per dataset. ``loader``:
``DeviceLoader`` keeps a whole dataset on the device and builds every batch there.
"""
from .loader import (DeviceLoader, balanced_subset, dataset_stats, load_data_fashion_mnist,
                     make_loaders)
from .readers import (Split, load_fashion_mnist, load_house_prices, preprocess_house_prices,
                      read_idx)
from .sources import (DATA_SOURCES, DATASETS, FASHION_MNIST_CLASSES, FASHION_MNIST_FILES,
                      HOUSE_PRICE_FILES, MIRROR_ENV, SETUP_COMMAND, DataError, checked_file,
                      data_root, data_source, dataset_dir, ensure_data, md5sum)
