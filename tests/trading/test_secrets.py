"""The API secret is never printed: not in logs (even at DEBUG), output, reprs or exception texts."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import keyring
import pytest

from havterm import credentials_store as store
from havterm.engine.client import KrakenClient
from havterm.engine.trading import AckTimeout, Trader, TraderConfig, TradingError
from havterm.keys_cli import run_keys
from havterm.sim import Exchange, SimConfig

from .conftest import SYMBOL, best, make_client, ready, wait_for
from .test_keys import MemoryKeyring, parse
from .test_trader_orders import px


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv(store.ENV_KEY, raising=False)
    monkeypatch.delenv(store.ENV_SECRET, raising=False)
    before = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)


async def test_secret_never_printed_even_at_debug(
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, websockets' frame logs included
    async with Exchange(SimConfig(seed=13, market=False, symbols=(SYMBOL,))) as ex:
        key, secret = ex.endpoints["api_key"], ex.endpoints["api_secret"]
        answers = iter([key, secret])
        monkeypatch.setattr("havterm.keys_cli.getpass.getpass", lambda prompt="": next(answers))
        assert run_keys(parse("keys", "set")) == 0
        assert run_keys(parse("keys", "show")) == 0
        creds = store.load_credentials()
        assert creds.secret() == secret

        client = make_client(ex)  # built from the same key and secret
        trader = Trader(client, TraderConfig(ack_timeout_s=0.5))
        texts: list[str] = [repr(creds), str(creds), repr(client.config), repr(store.find_credentials())]
        async with client:
            await ready(trader)
            price = px(best(ex, "bid").price - 1000)
            placed = await trader.add_order(SYMBOL, "buy", "0.01", price=price)
            await trader.cancel_order(order_ids=[placed.order_id])
            for bad in (
                trader.add_order(SYMBOL, "buy", "100000", price=price),  # insufficient funds
                trader.amend_order(order_id="ONOPE", qty="1"),
            ):
                with pytest.raises(TradingError) as err:
                    await bad
                texts += [str(err.value), repr(err.value)]
            ex.faults.set_connection(ex.connections("auth")[0], ack_drop=1.0)
            with pytest.raises(AckTimeout) as lost:
                await trader.add_order(SYMBOL, "buy", "0.01", price=price)
            texts += [str(lost.value), repr(lost.value)]
            await wait_for(lambda: not trader.orders.open_orders(), 3)
            token = trader.session.token
            assert token
            texts += [repr(trader), repr(trader.orders.all()), repr(client.auth_session)]
        await trader.close()
    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text]
    assert any("cancel_order" in r.getMessage() for r in caplog.records)  # DEBUG logging was on
    for text in texts:
        assert secret not in text and secret[:16] not in text and secret[-16:] not in text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("havterm"))
    assert token not in ours  # our logs leave the WebSocket token out too
    assert key not in out.out  # `keys show` printed the key redacted
    assert isinstance(client, KrakenClient)
