"""Consequence tasks: sent without failing the caller, and, when not waited for, in order."""

from celery import current_app
from kombu.exceptions import OperationalError

from portal.core import dispatch
from portal.core.dispatch import send_quietly


def test_sends_not_waited_for_go_out_in_order_and_a_refused_one_is_only_logged(monkeypatch, caplog):
    sent = []

    def send_task(name, args):
        if name == "refused":
            raise OperationalError("the broker is down")  # what kombu raises then
        sent.append((name, args))

    monkeypatch.setattr(current_app, "send_task", send_task)

    queued = [send_quietly("first", 1, wait=False), send_quietly("refused", wait=False),
              send_quietly("second", [2, 3], wait=False)]  # fmt: skip
    dispatch.flush()

    assert queued == [True, True, True]
    assert sent == [("first", (1,)), ("second", ([2, 3],))]
    assert "task not sent; a periodic job will catch up" in caplog.text


def test_a_send_waited_for_says_whether_it_went(monkeypatch):
    def refuse(name, args):
        raise OperationalError("the broker is down")

    monkeypatch.setattr(current_app, "send_task", refuse)

    assert send_quietly("anything") is False
