"""Authenticated sessions against the embedded exchange: tokens, level3, private channels, failures."""

from __future__ import annotations

import asyncio

import pytest

from havterm.engine.book import BookState
from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.credentials import Credentials, CredentialsError
from havterm.engine.events import BalancesMessage, ExecutionsMessage, MethodResponse
from havterm.engine.protocol import Phase, StateChange
from havterm.engine.rest import RestError, get_ws_token
from havterm.sim import Exchange, SimConfig

from .helpers import wait_for

SYMBOLS = ["BTC/USD", "ETH/USD"]


def creds(ex: Exchange, secret: str | None = None) -> Credentials:
    return Credentials(ex.endpoints["api_key"], secret or ex.endpoints["api_secret"])


def auth_client(ex: Exchange, c: Credentials, **kw: object) -> KrakenClient:
    return KrakenClient(ClientConfig(
        symbols=SYMBOLS, url=ex.endpoints["ws"], auth_url=ex.endpoints["ws_auth"],
        l3_url=ex.endpoints["ws_l3"], rest_url=ex.endpoints["rest"], credentials=c,
        backoff_base_s=0.05, backoff_cap_s=0.3, **kw,  # type: ignore[arg-type]
    ))


async def test_token_from_rest_and_bad_keys() -> None:
    async with Exchange(SimConfig(seed=1, market=False)) as ex:
        token = await get_ws_token(ex.endpoints["rest"], creds(ex))
        assert isinstance(token, str) and len(token) > 10
        wrong_key = Credentials("NOPE" + ex.endpoints["api_key"][4:], ex.endpoints["api_secret"])
        with pytest.raises(RestError) as err:
            await get_ws_token(ex.endpoints["rest"], wrong_key)
        assert err.value.errors == ["EAPI:Invalid key"] and err.value.is_auth
        wrong_secret = creds(ex, "AAAA" + ex.endpoints["api_secret"][4:])
        with pytest.raises(RestError) as err:
            await get_ws_token(ex.endpoints["rest"], wrong_secret)
        assert err.value.errors == ["EAPI:Invalid signature"]


async def test_concurrent_token_requests_all_succeed() -> None:
    # The trading and level3 connections fetch their tokens at the same moment; Kraken refuses a
    # nonce lower than the last one it saw for the key, so the calls must reach it in nonce order.
    async with Exchange(SimConfig(seed=1, market=False)) as ex:
        results = await asyncio.gather(
            *(get_ws_token(ex.endpoints["rest"], creds(ex)) for _ in range(12)), return_exceptions=True
        )
        errors = [str(r) for r in results if isinstance(r, BaseException)]
        assert errors == []
        assert len({r for r in results if isinstance(r, str)}) == 12


async def test_level3_books_verify_and_match_the_l2_books() -> None:
    async with Exchange(SimConfig(seed=2, market=False, symbols=SYMBOLS)) as ex:
        client = auth_client(ex, creds(ex), l3=True)
        async with client:
            await wait_for(lambda: all(
                client.state.symbols[s].l3_state is BookState.SYNCED and client.book(s) is not None
                for s in SYMBOLS), 5, "L2 and L3 books synced")
            for _ in range(10):
                ex.step(20)
                await ex.drain()
            def agree() -> bool:
                st = client.state.symbols["BTC/USD"]
                l2 = client.book("BTC/USD")
                return bool(st.l3 and l2 and st.l3.aggregated("buy")[:10] == l2.bids(10)
                            and st.l3.aggregated("sell")[:10] == l2.asks(10))
            await wait_for(agree, 5, "L3 aggregate == L2 top 10")
            st = client.state.symbols["BTC/USD"]
            assert st.l3 is not None and st.l3.checksums_verified > 10
            st.l3._check()
            truth = ex.book("BTC/USD").best_bid()
            front = st.l3.queue("buy", truth.price)
            assert [oid for oid, _ in front] == list(truth.orders)[: len(front)]


async def test_private_channels_snapshot_and_token_refresh_on_reconnect() -> None:
    async with Exchange(SimConfig(seed=3, market=False, symbols=SYMBOLS, faults="token_ttl=1")) as ex:
        client = auth_client(ex, creds(ex), private=("executions", "balances"))
        got: list[object] = []
        client.on(ExecutionsMessage, got.append)
        client.on(BalancesMessage, got.append)
        async with client:
            await wait_for(lambda: any(isinstance(e, BalancesMessage) for e in got), 5, "balances")
            assert client.auth_session is not None
            await wait_for(lambda: client.auth_session.phase is Phase.SUBSCRIBED, 5)
            snap = next(e for e in got if isinstance(e, BalancesMessage))
            assert snap.snapshot and {b.asset for b in snap.entries} >= {"USD", "BTC"}
            # Tokens now expire after 1 s; a reconnect must fetch a fresh one, not reuse the old.
            (cid,) = ex.connections("auth")
            auth_transport = client.transports[-1]
            assert auth_transport.session is client.auth_session
            ex.tokens.expire_all()
            ex.disconnect(cid, 1006)
            await wait_for(lambda: auth_transport.stats.connects >= 2, 5, "the auth socket reconnected")
            snaps = lambda: [e for e in got if isinstance(e, BalancesMessage) and e.snapshot]  # noqa: E731
            await wait_for(lambda: len(snaps()) >= 2, 5, "a balances snapshot on the new connection")
            await wait_for(lambda: client.auth_session.phase is Phase.SUBSCRIBED, 5)


async def test_bad_credentials_are_fatal_and_told() -> None:
    async with Exchange(SimConfig(seed=4, market=False, symbols=SYMBOLS)) as ex:
        bad = Credentials("NOPE" + ex.endpoints["api_key"][4:], ex.endpoints["api_secret"])
        client = auth_client(ex, bad, private=("executions",))
        changes: list[StateChange] = []
        client.on(StateChange, changes.append)
        async with client:
            assert client.auth_session is not None
            await wait_for(lambda: client.auth_session.phase is Phase.CLOSED, 5, "auth session closed")
            await wait_for(lambda: client.session.phase is Phase.SUBSCRIBED, 5)  # public data goes on
        closed = [c for c in changes if c.new is Phase.CLOSED and "authentication failed" in c.cause]
        assert closed and "EAPI:Invalid key" in closed[0].cause


def test_credentials_never_show_the_secret() -> None:
    secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    c = Credentials("ABCDEFGHIJKLMNOP", secret)
    for text in (repr(c), str(c), f"{c}", repr([c]), repr(ClientConfig(credentials=c))):
        assert secret not in text and secret[:12] not in text
        assert "ABCDEFGHIJ" not in text
    with pytest.raises(CredentialsError) as err:
        Credentials("KEY", "not base64 !!")
    assert "not base64 !!" not in str(err.value)


def test_private_channels_without_credentials_is_a_clear_error() -> None:
    with pytest.raises(CredentialsError, match="KRAKEN_API_KEY"):
        KrakenClient(ClientConfig(l3=True))


async def test_exceeded_msg_rate_is_reported_and_survived() -> None:
    async with Exchange(SimConfig(seed=5, market=False, symbols=SYMBOLS)) as ex:
        client = KrakenClient(ClientConfig(symbols=SYMBOLS, url=ex.endpoints["ws"]))
        errors: list[MethodResponse] = []
        client.on(MethodResponse, lambda ev: errors.append(ev) if not ev.success else None)
        async with client:
            await wait_for(lambda: client.book("BTC/USD") is not None, 5)
            (cid,) = ex.connections("public")
            ex.faults.set_connection(cid, msg_rate_limit=2)
            for _ in range(6):
                client.session.ping(0.0)
            client.transport.kick()
            await wait_for(lambda: any("Exceeded msg rate" in (e.error or "") for e in errors), 5)
            ex.faults.clear(cid)
            ex.step(20)
            await ex.drain()
            took = await wait_for(
                lambda: client.session.phase is Phase.SUBSCRIBED and client.book("BTC/USD") is not None, 5
            )
            assert took < 3.0
