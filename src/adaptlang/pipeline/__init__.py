"""Studies built as short lists of stages over :mod:`adaptlang.runs`:

- :mod:`.categorize`: is a language easy, intermediate or hard for a pretrained model (measured verdict);
- :mod:`.results`: categorize's typed result (scores over seeds, bootstrap differences, verdict);
- :mod:`.randominit`: which layers of a pretrained encoder matter for same- and cross-language transfer.
"""

from adaptlang.pipeline.categorize import (VARIANTS, CategorizeConfig, CategorizePlan, check_config, check_inputs,
                                           decide_translit, plan_categorize, run_categorize)
from adaptlang.pipeline.results import (METRIC_COLUMNS, TASKS, CategorizeResult, RunResult, VariantResult,
                                        build_results)
from adaptlang.runs import RESUME_HINT, Interrupted, StageRecord, config_key

__all__ = [
    "METRIC_COLUMNS", "RESUME_HINT", "TASKS", "VARIANTS", "CategorizeConfig", "CategorizePlan", "CategorizeResult",
    "Interrupted", "RunResult", "StageRecord", "VariantResult", "build_results", "check_config", "check_inputs",
    "config_key", "decide_translit", "plan_categorize", "run_categorize",
]
