#!/usr/bin/env bash
# Store Google's client_secret.json in the stack's Secrets Manager secret.
#
#   infra/deploy/put_client_secret.sh STACK_NAME path/to/client_secret.json [--profile X] [--region R]
#
# The file is the one Google Cloud console downloads for a "Web application" OAuth client.
# It must hold a `web` object with client_id, client_secret and a redirect URI ending in
# /oauth/callback (the stack's RedirectUri output). The secret value is never printed.
set -euo pipefail

usage() {
  echo "usage: $0 STACK_NAME path/to/client_secret.json [--profile PROFILE] [--region REGION]" >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
stack_name=$1
secret_file=$2
shift 2

aws_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --profile | --region)
      [[ $# -ge 2 ]] || usage
      aws_args+=("$1" "$2")
      shift 2
      ;;
    -h | --help) usage ;;
    *)
      echo "unknown option: $1" >&2
      usage
      ;;
  esac
done

[[ -f $secret_file && -r $secret_file ]] || {
  echo "cannot read $secret_file" >&2
  exit 1
}
command -v aws >/dev/null || {
  echo "the AWS CLI (aws) is not on PATH" >&2
  exit 1
}
python=$(command -v python3 || command -v python) || {
  echo "python3 is needed to check the file" >&2
  exit 1
}

# Check the shape without printing any value. The file is passed by path, not on stdin/argv.
"$python" - "$secret_file" <<'PY'
import json
import sys

path = sys.argv[1]
try:
    with open(path, encoding="utf-8") as stream:
        config = json.load(stream)
except (OSError, ValueError) as error:
    sys.exit(f"{path}: not a JSON file ({type(error).__name__})")
web = config.get("web") if isinstance(config, dict) else None
if not isinstance(web, dict):
    sys.exit(f"{path}: no 'web' object (create a 'Web application' OAuth client, not 'Desktop')")
missing = [key for key in ("client_id", "client_secret") if not isinstance(web.get(key), str) or not web[key]]
if missing:
    sys.exit(f"{path}: 'web' lacks {', '.join(missing)}")
redirects = web.get("redirect_uris")
if not isinstance(redirects, list) or not any(
    isinstance(uri, str) and uri.rstrip("/").endswith("/oauth/callback") for uri in redirects
):
    sys.exit(f"{path}: 'web.redirect_uris' has no URI ending in /oauth/callback (see the stack's RedirectUri output)")
PY

secret_arn=$(aws ${aws_args[@]+"${aws_args[@]}"} cloudformation describe-stacks --stack-name "$stack_name" \
  --query "Stacks[0].Outputs[?OutputKey=='GoogleClientSecretArn'].OutputValue" --output text)
if [[ -z $secret_arn || $secret_arn == None ]]; then
  echo "stack $stack_name has no GoogleClientSecretArn output" >&2
  exit 1
fi

redirect_uri=$(aws ${aws_args[@]+"${aws_args[@]}"} cloudformation describe-stacks --stack-name "$stack_name" \
  --query "Stacks[0].Outputs[?OutputKey=='RedirectUri'].OutputValue" --output text)

# file:// keeps the value off the command line (no `ps` exposure); only the version id is shown.
version=$(aws ${aws_args[@]+"${aws_args[@]}"} secretsmanager put-secret-value --secret-id "$secret_arn" \
  --secret-string "file://$secret_file" --query VersionId --output text)

echo "stored $secret_file in $secret_arn (version $version)"
if [[ -n $redirect_uri && $redirect_uri != None ]]; then
  if "$python" - "$secret_file" "$redirect_uri" <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as stream:
    sys.exit(0 if sys.argv[2] in json.load(stream)["web"]["redirect_uris"] else 1)
PY
  then
    echo "redirect URI $redirect_uri is registered in this client config"
  else
    echo "warning: $redirect_uri is not among this client's redirect_uris: add it in Google Cloud" \
      "console (APIs & Services > Credentials), download the file again and rerun" >&2
  fi
fi
