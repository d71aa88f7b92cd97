"""dnet_lib: the library behind the DenseNet-versus-ResNet book; what the chapters import.
Networks: ``models``, ``arith``, ``stages``. Data and training: ``data``, ``train``. Analyses:
``memory``, ``reuse``, ``gradflow``, ``degradation``, ``toy``, ``seeds``. Results: ``reference``,
``results``, ``live``. Pictures and widgets: ``drawing``, ``style``, ``explorers``. Exercises'
checks: ``exercises``. Plumbing: ``runtime``, ``validate``, ``files``, ``units``."""
__version__ = "0.1.0"
