"""deeprnn compare: several configurations on the same data and budget, side by side.

    from deeprnn.lm.compare import compare, parse_grid
    result = compare(base_config, parse_grid(["cell=lstm,gru", "num_layers=1,2"]), "runs/cmp")
    print(result.markdown())

grid.py parses the grid, runner.py runs it (resumable, one normal run folder per cell), table.py reads
the results, plot.py draws compare.png, load.py judges whether the timings are fair.
"""

from .grid import Axis, Cell, expand, parse_grid
from .runner import Comparison, compare, summary_json

__all__ = ["Axis", "Cell", "Comparison", "compare", "expand", "parse_grid", "summary_json"]
