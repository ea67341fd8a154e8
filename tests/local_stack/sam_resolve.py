"""Run by SAM CLI's own Python (.venv-sam): the environment ``sam local invoke`` would give a function.

    python sam_resolve.py TEMPLATE ENV_VARS_FILE FUNCTION_LOGICAL_ID

Prints it as JSON. SAM's classes, not a copy of its rules: which variables an --env-vars file
can set is SAM's decision (only those the template declares).
"""

import json
import sys

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

template, env_vars_file, function_id = sys.argv[1:4]
stacks, _ = SamLocalStackProvider.get_stacks(template)
provider = SamFunctionProvider(stacks)
with open(env_vars_file, encoding="utf-8") as stream:
    env_vars = json.load(stream)
runner = LocalLambdaRunner(
    local_runtime=None, function_provider=provider, cwd=".", real_path=".", env_vars_values=env_vars
)
function = provider.get(function_id)
print(json.dumps(runner._make_env_vars(function).resolve()))
