"""A first tracked run from a script (notebook 01): MLflow records the script and its git commit.

python scripts/first_run.py --tracking-uri sqlite:///mlflow.db --experiment nyc-taxi-intro
"""

import argparse

import mlflow

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--tracking-uri", required=True)
parser.add_argument("--experiment", required=True)
args = parser.parse_args()

mlflow.set_tracking_uri(args.tracking_uri)
mlflow.set_experiment(args.experiment)
with mlflow.start_run(run_name="from-a-script"):
    mlflow.log_param("where", "a script in a git repository")
