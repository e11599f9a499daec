"""Character- (or word-) level language modelling on either engine: configs, training, evaluation,
generation and checkpoints. The command line (deeprnn/cli.py) is a thin layer over this package."""
