#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu, as root).
# The autograder zip holds this file, run_autograder and a deeprnn wheel, built in deeprnn's folder with
#   pip wheel --no-deps -w dist .
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install /autograder/source/deeprnn-*.whl
# Notebooks submitted as .ipynb are converted to a script:
/autograder/venv/bin/pip install nbconvert
# d2l submissions are PyTorch code; a CPU build is enough (pin the version your course uses):
# /autograder/venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
