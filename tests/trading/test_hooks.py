"""What order entry needs of the session and codec: queued frames die with the socket; sparse rows decode."""

from __future__ import annotations

from havterm.engine import codec
from havterm.engine.events import ExecutionsMessage
from havterm.engine.protocol import Session, SessionConfig, Subscription


def test_a_trading_frame_goes_out_behind_the_sessions_own() -> None:
    s = Session([Subscription("executions")], config=SessionConfig(needs_token=True), name="auth")
    s.connecting(0.0)
    s.connection_opened(0.0, token="tok")
    rid = s.next_req_id()
    s.send(codec.trading_request("cancel_all", "tok", {}, rid))
    frames = s.data_to_send()
    assert '"executions"' in frames[0] and '"cancel_all"' in frames[-1] and f'"req_id":{rid}' in frames[-1]


def test_a_request_queued_on_a_dead_connection_is_never_sent_on_the_next() -> None:
    # An add_order queued as the socket died must not go out on the next connection: we have
    # already settled it from the snapshot, so sending it then could place a second order.
    s = Session([Subscription("executions")], config=SessionConfig(needs_token=True), name="auth")
    s.connecting(0.0)
    s.connection_opened(0.0, token="old")
    s.data_to_send()
    s.send(codec.trading_request("add_order", "old", {"symbol": "BTC/USD"}, s.next_req_id()))
    s.connection_lost(1.0, "connection lost")
    s.connecting(2.0)
    s.connection_opened(2.0, token="new")
    assert not any("add_order" in f for f in s.data_to_send())


def test_an_executions_snapshot_row_without_exec_type_decodes() -> None:
    frame = (
        '{"channel":"executions","type":"snapshot","sequence":1,"data":'
        '[{"order_id":"O1","symbol":"BTC/USD","order_status":"new","order_qty":1}]}'
    )
    assert isinstance(codec.decode(frame)[0], ExecutionsMessage)
