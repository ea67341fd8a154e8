"""States, sessions and tokens against moto's DynamoDB and KMS, built from template.yaml."""

from __future__ import annotations

import time

import boto3
import pytest

from gmail_connect.core import aws_batches
from gmail_connect.core.errors import ConcurrentUpdate, InvalidState, Unauthenticated
from gmail_connect.core.opaque_tokens import digest, new_token
from gmail_connect.store import accounts, grants, sessions, states, token_crypto
from tests.support.counting import AwsCalls


def _grant(
    user_id: str = "111", refresh: str | None = "1//refresh-MARKER", access: str = "ya29.access-MARKER"
):
    return grants.Grant(
        user_id=user_id,
        email=f"{user_id}@example.com",
        scopes=("openid", "https://www.googleapis.com/auth/gmail.readonly"),
        access_token=access,
        access_token_expires_at=int(time.time()) + 3600,
        refresh_token=refresh,
    )


def _item(environment: dict[str, str], table: str, key: dict) -> dict | None:
    return boto3.client("dynamodb").get_item(TableName=environment[table], Key=key).get("Item")


# --- states ------------------------------------------------------------------------------------


def test_state_is_stored_hashed_with_verifier_binding_and_expiry(aws: dict[str, str]) -> None:
    state, nonce = new_token(), new_token()
    states.save(state, states.PendingAuthorization("v" * 86, "/inbox"), browser_nonce=nonce)
    items = boto3.client("dynamodb").scan(TableName=aws["STATES_TABLE"])["Items"]
    assert len(items) == 1
    item = items[0]
    assert item["state_id"]["S"] == digest(state)
    assert item["browser"]["S"] == digest(nonce)
    assert state not in str(item)
    assert nonce not in str(item)
    assert item["code_verifier"]["S"] == "v" * 86
    assert 590 <= int(item["expires_at"]["N"]) - time.time() <= 600


def test_state_is_consumed_exactly_once(aws: dict[str, str]) -> None:
    state, nonce = new_token(), new_token()
    states.save(state, states.PendingAuthorization("verifier", "/me"), browser_nonce=nonce)
    pending = states.consume(state, browser_nonce=nonce)
    assert pending == states.PendingAuthorization(code_verifier="verifier", return_to="/me")
    with pytest.raises(InvalidState):
        states.consume(state, browser_nonce=nonce)


def test_state_from_another_browser_is_refused_and_kept_for_its_owner(aws: dict[str, str]) -> None:
    state, nonce = new_token(), new_token()
    states.save(state, states.PendingAuthorization("verifier", "/me"), browser_nonce=nonce)
    with pytest.raises(InvalidState):
        states.consume(state, browser_nonce=new_token())
    assert states.consume(state, browser_nonce=nonce).code_verifier == "verifier"


def test_expired_state_is_refused_even_before_ttl_deletion(aws: dict[str, str]) -> None:
    state, nonce = new_token(), new_token()
    states.save(state, states.PendingAuthorization("verifier", "/me"), browser_nonce=nonce)
    boto3.client("dynamodb").update_item(
        TableName=aws["STATES_TABLE"],
        Key={"state_id": {"S": digest(state)}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    with pytest.raises(InvalidState):
        states.consume(state, browser_nonce=nonce)


# --- sessions ----------------------------------------------------------------------------------


def test_session_is_opaque_and_stored_hashed(aws: dict[str, str]) -> None:
    token = sessions.create("111", "conn_1")
    assert len(token) == 43  # 256 random bits, base64url
    assert sessions.require(token) == sessions.Session("111", "conn_1")
    stored = boto3.client("dynamodb").scan(TableName=aws["SESSIONS_TABLE"])["Items"]
    assert [item["session_id"]["S"] for item in stored] == [digest(token)]
    assert token not in str(stored)
    assert sessions.create("111", "conn_1") != token


@pytest.mark.parametrize("token", [None, "", "short", "x" * 43 + "!", "not a token at all " * 3])
def test_missing_or_malformed_session_is_unauthenticated(aws: dict[str, str], token: str | None) -> None:
    with pytest.raises(Unauthenticated):
        sessions.require(token)


def test_expired_session_is_refused_before_ttl_deletion(aws: dict[str, str]) -> None:
    token = sessions.create("111", "conn_1")
    boto3.client("dynamodb").update_item(
        TableName=aws["SESSIONS_TABLE"],
        Key={"session_id": {"S": digest(token)}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert sessions.current(token) is None


def test_deleted_session_is_gone(aws: dict[str, str]) -> None:
    token = sessions.create("111", "conn_1")
    sessions.delete(token)
    assert sessions.current(token) is None


def test_a_session_ends_with_its_connection_and_never_revives(aws: dict[str, str]) -> None:
    # Given a session issued for the account's connection
    account = grants.store_new_grant(_grant()).account
    assert account.connection_id
    assert account.connection_id.startswith("conn_")
    session = sessions.require(sessions.create("111", account.connection_id))
    assert not session.ended_for(accounts.get("111"))
    # When the account is disconnected, and then connected again
    accounts.delete("111")
    assert session.ended_for(accounts.get("111"))
    reconnected = grants.store_new_grant(_grant(refresh="1//again")).account
    # Then the reconnect is a new connection, which the old session does not name
    assert reconnected.connection_id != account.connection_id
    assert session.ended_for(accounts.get("111"))


def test_a_re_consent_keeps_the_connection_and_its_sessions(aws: dict[str, str]) -> None:
    first = grants.store_new_grant(_grant()).account
    second = grants.store_new_grant(_grant(refresh="1//newer")).account
    assert second.connection_id == first.connection_id


# --- tokens ------------------------------------------------------------------------------------


def test_stored_item_holds_no_plaintext_token(aws: dict[str, str]) -> None:
    grants.store_new_grant(_grant())
    item = _item(aws, "TOKENS_TABLE", {"user_id": {"S": "111"}})
    assert item is not None
    flat = repr(item)
    assert "MARKER" not in flat
    assert b"MARKER" not in item["refresh_token"]["B"]
    assert (
        token_crypto.decrypt(token_crypto.REFRESH_TOKEN, "111", item["refresh_token"]["B"])
        == "1//refresh-MARKER"
    )
    assert (
        token_crypto.decrypt(token_crypto.ACCESS_TOKEN, "111", item["access_token"]["B"])
        == "ya29.access-MARKER"
    )
    assert item["status"]["S"] == "connected"
    assert item["version"]["N"] == "1"


def test_ciphertext_moved_to_another_user_fails_to_decrypt(aws: dict[str, str]) -> None:
    grants.store_new_grant(_grant("111"))
    grants.store_new_grant(_grant("222", refresh="1//other"))
    stolen = _item(aws, "TOKENS_TABLE", {"user_id": {"S": "111"}})["refresh_token"]["B"]
    with pytest.raises(token_crypto.UndecryptableToken):
        token_crypto.decrypt(token_crypto.REFRESH_TOKEN, "222", stolen)
    with pytest.raises(token_crypto.UndecryptableToken):
        token_crypto.decrypt(token_crypto.ACCESS_TOKEN, "111", stolen)  # same user, other purpose


def test_re_consent_bumps_version_and_keeps_first_connection_time(aws: dict[str, str]) -> None:
    first = grants.store_new_grant(_grant()).account
    second = grants.store_new_grant(_grant(refresh="1//newer")).account
    assert (first.version, second.version) == (1, 2)
    assert second.connected_at == first.connected_at
    item = _item(aws, "TOKENS_TABLE", {"user_id": {"S": "111"}})
    assert token_crypto.decrypt(token_crypto.REFRESH_TOKEN, "111", item["refresh_token"]["B"]) == "1//newer"


def test_grant_without_refresh_token_keeps_the_stored_one(aws: dict[str, str]) -> None:
    grants.store_new_grant(_grant())
    stored = grants.refresh_connected_grant(_grant(refresh=None, access="ya29.second"))
    assert stored is not None
    assert stored.account.version == 1
    item = _item(aws, "TOKENS_TABLE", {"user_id": {"S": "111"}})
    assert (
        token_crypto.decrypt(token_crypto.REFRESH_TOKEN, "111", item["refresh_token"]["B"])
        == "1//refresh-MARKER"
    )
    assert token_crypto.decrypt(token_crypto.ACCESS_TOKEN, "111", item["access_token"]["B"]) == "ya29.second"


def test_grant_without_refresh_token_and_nothing_stored_is_not_connected(aws: dict[str, str]) -> None:
    assert grants.refresh_connected_grant(_grant(refresh=None)) is None
    assert _item(aws, "TOKENS_TABLE", {"user_id": {"S": "111"}}) is None


def test_concurrent_writer_is_never_silently_overwritten(aws: dict[str, str], monkeypatch) -> None:
    # Given a writer whose read is always overtaken by another writer's put
    grants.store_new_grant(_grant())
    dynamodb = boto3.client("dynamodb")
    real_get = accounts.aws.client("dynamodb").get_item

    def stale_read(**kwargs):
        result = real_get(**kwargs)
        dynamodb.update_item(
            TableName=aws["TOKENS_TABLE"],
            Key={"user_id": {"S": "111"}},
            UpdateExpression="SET version = version + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        return result

    monkeypatch.setattr(accounts.aws.client("dynamodb"), "get_item", stale_read)
    # When it tries to store, Then it gives up loudly instead of clobbering the newer grant
    with pytest.raises(ConcurrentUpdate):
        grants.store_new_grant(_grant(refresh="1//loser"))
    item = _item(aws, "TOKENS_TABLE", {"user_id": {"S": "111"}})
    assert (
        token_crypto.decrypt(token_crypto.REFRESH_TOKEN, "111", item["refresh_token"]["B"])
        == "1//refresh-MARKER"
    )


def test_re_consent_never_rewinds_the_sync_position(aws: dict[str, str], monkeypatch) -> None:
    # Given a connected user, synced up to 400
    grants.store_new_grant(_grant())
    assert accounts.advance_sync_position("111", 400)
    client = accounts.aws.client("dynamodb")
    real_get = client.get_item

    def sync_lands_after_the_read(**kwargs):
        result = real_get(**kwargs)
        monkeypatch.setattr(client, "get_item", real_get)
        assert accounts.advance_sync_position("111", 500)  # a worker finishes meanwhile
        return result

    monkeypatch.setattr(client, "get_item", sync_lands_after_the_read)
    # When the user consents again while that sync lands
    grants.store_new_grant(_grant(refresh="1//again"))
    # Then the position is where the sync left it, and the new grant is stored
    item = _item(aws, "TOKENS_TABLE", {"user_id": {"S": "111"}})
    assert item["history_id"]["N"] == "500"
    assert item["version"]["N"] == "2"
    assert token_crypto.decrypt(token_crypto.REFRESH_TOKEN, "111", item["refresh_token"]["B"]) == "1//again"


# --- connections and their owners ------------------------------------------------------------------


def test_a_link_gives_a_browser_connection_an_owner_without_a_new_connection(aws: dict[str, str]) -> None:
    first = grants.store_new_grant(_grant()).account
    adopted = grants.store_new_grant(_grant(refresh="1//2"), "u_1")
    assert adopted.account.connection_id == first.connection_id
    assert adopted.account.external_user_id == "u_1"
    assert adopted.moved_from is None
    # And the browser flow later keeps the owner
    again = grants.refresh_connected_grant(_grant(refresh=None))
    assert again is not None
    assert again.account.external_user_id == "u_1"


def test_a_link_for_another_application_user_moves_the_account_as_a_new_connection(
    aws: dict[str, str],
) -> None:
    # Given an account connected for u_1
    first = grants.store_new_grant(_grant(), "u_1").account
    # When u_2 connects the same Google account through their own link
    moved = grants.store_new_grant(_grant(refresh="1//2"), "u_2")
    # Then it is u_2's, as a new connection, and u_1's connection is gone
    assert moved.account.external_user_id == "u_2"
    assert moved.account.connection_id != first.connection_id
    assert moved.moved_from == "u_1"
    assert accounts.by_connection(first.connection_id or "") is None
    assert accounts.by_connection(moved.account.connection_id or "") == accounts.get(
        "111", accounts.CONNECTION_VIEW_ATTRIBUTES
    )
    assert [a.user_id for a in accounts.of_external_user("u_2")] == ["111"]
    assert accounts.of_external_user("u_1") == []


def test_one_application_user_may_hold_several_google_accounts(aws: dict[str, str]) -> None:
    grants.store_new_grant(_grant("111"), "u_1")
    grants.store_new_grant(_grant("222"), "u_1")
    grants.store_new_grant(_grant("333"), "u_9")
    assert sorted(a.email for a in accounts.of_external_user("u_1")) == ["111@example.com", "222@example.com"]


# --- many accounts in one read (the sync worker) -------------------------------------------------


def test_many_accounts_are_read_in_one_call_with_the_projection_asked(aws: dict[str, str]) -> None:
    # Given two connected users, one with a sync position
    grants.store_new_grant(_grant("111"))
    grants.store_new_grant(_grant("222"))
    accounts.advance_sync_position("222", 900)
    calls = AwsCalls()
    # When both, an unknown id and a repeated one are read
    read = accounts.get_many(["111", "222", "999", "111"], accounts.SYNC_CREDENTIAL_ATTRIBUTES)
    # Then one BatchGetItem answered all three ids, an unknown one as None
    assert calls.calls == ["dynamodb:BatchGetItem"]
    assert set(read) == {"111", "222", "999"}
    assert read["999"] is None
    first, second = read["111"], read["222"]
    assert first is not None
    assert second is not None
    # And each account holds the sync position and the grant, as a single read of each would
    assert second == accounts.get("222", accounts.SYNC_CREDENTIAL_ATTRIBUTES)
    assert (second.history_id, second.connected, second.version) == (900, True, 1)
    assert second.refresh_token
    assert second.access_token
    assert first.history_id is None


def leave_unprocessed(table: str, user_id: str, *, calls: int) -> list[list[str]]:
    """DynamoDB's answer, minus `user_id`, which it leaves unprocessed on the first `calls` calls
    that ask for it (moto never does); returns the keys each BatchGetItem asked for."""
    requested: list[list[str]] = []

    def record(params: dict, **_) -> None:
        requested.append([key["user_id"]["S"] for key in params["RequestItems"][table]["Keys"]])

    def unprocess(parsed: dict, **_) -> None:
        if user_id in requested[-1] and sum(user_id in keys for keys in requested) <= calls:
            parsed["Responses"][table] = [
                i for i in parsed["Responses"][table] if i["user_id"]["S"] != user_id
            ]
            parsed["UnprocessedKeys"] = {table: {"Keys": [{"user_id": {"S": user_id}}]}}

    events = accounts.aws.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.BatchGetItem", record)
    events.register("after-call.dynamodb.BatchGetItem", unprocess)
    return requested


def test_keys_dynamodb_leaves_unprocessed_are_read_again_and_only_they(
    aws: dict[str, str], monkeypatch
) -> None:
    # Given three stored users, and DynamoDB leaving one key unprocessed once
    for user_id in ("111", "222", "333"):
        grants.store_new_grant(_grant(user_id))
    requested = leave_unprocessed(aws["TOKENS_TABLE"], "222", calls=1)
    monkeypatch.setattr(aws_batches.time, "sleep", lambda _: None)
    # When the three are read
    read = accounts.get_many(["111", "222", "333"], accounts.STATUS_ATTRIBUTES)
    # Then a second call asked for that key alone, and every account was read
    assert requested == [["111", "222", "333"], ["222"]]
    assert {user_id: account.email for user_id, account in read.items() if account} == {
        "111": "111@example.com",
        "222": "222@example.com",
        "333": "333@example.com",
    }


def test_keys_never_processed_are_left_for_the_caller(aws: dict[str, str], monkeypatch) -> None:
    # Given DynamoDB leaving one key unprocessed on every attempt
    grants.store_new_grant(_grant("111"))
    grants.store_new_grant(_grant("222"))
    requested = leave_unprocessed(aws["TOKENS_TABLE"], "222", calls=100)
    monkeypatch.setattr(aws_batches.time, "sleep", lambda _: None)
    # When both are read
    read = accounts.get_many(["111", "222"], accounts.STATUS_ATTRIBUTES)
    # Then after the bounded retries the starved id is absent (not None: it was never read)
    assert set(read) == {"111"}
    assert read["111"] is not None
    assert requested == [["111", "222"]] + [["222"]] * (aws_batches.ATTEMPTS - 1)
