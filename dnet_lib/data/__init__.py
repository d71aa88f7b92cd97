"""Datasets for the book: Fashion-MNIST and the Kaggle house prices. ``sources``: the files,
md5s, data folder, mirrors and the set-up (``make data``); ``readers``: one per dataset;
``loader``: ``DeviceLoader`` keeps a whole dataset on the device and batches it there."""
from .loader import DeviceLoader, dataset_stats, load_data_fashion_mnist, make_loaders
from .readers import Split, load_fashion_mnist, load_house_prices, preprocess_house_prices
from .sources import (DATA_SOURCES, DATASETS, FASHION_MNIST_CLASSES, MIRROR_ENV, SETUP_COMMAND,
                      DataError, checked_file, data_root, data_source, ensure_data, locate)
