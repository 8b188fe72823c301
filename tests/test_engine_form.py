"""The engine as a form (every core question at once, as on a group card), reopening skipped optional
questions, and the channel's own data kept with a session."""
import json

from bot.engine.dialogue import QuestionView, ResultView
from bot.engine.spec import RESULT, SKIP, UNSURE


def test_fill_answers_in_any_order_and_moves_the_cursor_to_the_first_open_question(dialogue):
    s = dialogue.new_session()
    reply = dialogue.fill(s, {"capital": "limited"})
    assert reply.changed and s.rev == 1 and s.answers == {"capital": "limited"}
    assert isinstance(reply.view, QuestionView) and reply.view.step.id == "factory"
    reply = dialogue.fill(s, {"factory": "own_factory"})
    assert reply.view.step.id == "experience"
    reply = dialogue.fill(s, {"factory": "sourcing"})           # an answer given before is replaced
    assert s.answers["factory"] == "sourcing" and reply.view.step.id == "experience"
    assert s.history == ["capital", "factory"]


def test_fill_goes_to_the_result_once_every_core_question_is_answered(dialogue, services):
    s = dialogue.new_session()
    dialogue.fill(s, {"brand": "volume", "experience": UNSURE})
    reply = dialogue.fill(s, {"factory": "none", "capital": "limited"})
    assert s.state == RESULT and isinstance(reply.view, ResultView)
    assert all(s.answers[step.id] == SKIP for step in services.flow.optional_steps)
    assert reply.view.recommendation.mode == "full"
    # At the result an answer is changed in place and the result follows it.
    reply = dialogue.fill(s, {"capital": "strong"})
    assert s.state == RESULT and reply.view.answers["capital"] == "strong"


def test_fill_refuses_unknown_steps_and_options_and_changes_nothing(dialogue):
    s = dialogue.new_session()
    for bad in ({}, {"factory": "castle"}, {"nowhere": "none"}, {"factory": SKIP}):
        reply = dialogue.fill(s, bad)
        assert not reply.changed and reply.notices[0].key == "notice.stale"
    assert s.answers == {} and s.rev == 0


def test_fill_drops_answers_waiting_for_confirmation(dialogue):
    s = dialogue.new_session()
    dialogue.text(s, "我们是工厂，没做过跨境", "zh")
    assert s.pending
    dialogue.fill(s, {"capital": "moderate"})
    assert s.pending is None and s.answers == {"capital": "moderate"}


def test_reopen_optional_asks_the_skipped_ones_then_shows_the_result_again(dialogue, services):
    s = dialogue.new_session()
    dialogue.fill(s, {"factory": "own_factory", "experience": "some", "capital": "moderate", "brand": "brand"})
    reply = dialogue.reopen_optional(s)
    first = services.flow.optional_steps[0]
    assert reply.changed and isinstance(reply.view, QuestionView) and reply.view.step.id == first.id
    assert not reply.view.core and reply.view.number == 1
    reply = dialogue.choose(s, first.id, first.options[0].id)
    assert reply.view.step.id == services.flow.optional_steps[1].id
    reply = dialogue.finish(s)
    assert isinstance(reply.view, ResultView) and s.answers[first.id] == first.options[0].id
    assert s.answers[services.flow.optional_steps[1].id] == SKIP


def test_reopen_optional_needs_a_result_with_skipped_questions(dialogue):
    s = dialogue.new_session()
    assert dialogue.reopen_optional(s).notices[0].key == "notice.stale"     # no result yet
    dialogue.fill(s, {"factory": "none", "experience": "none", "capital": "limited", "brand": "volume"})
    for step in dialogue.flow.optional_steps:
        s.answers[step.id] = step.options[0].id                             # nothing skipped
    assert not dialogue.reopen_optional(s).changed


def test_channel_meta_round_trips_and_garbage_is_dropped(dialogue):
    s = dialogue.new_session()
    assert "m" not in s.to_dict()                                           # nothing stored when empty
    s.meta.update(card=3, m=17)
    restored = dialogue.restore(json.loads(json.dumps(s.to_dict())))
    assert restored.meta == {"card": 3, "m": 17}
    assert dialogue.restore({**s.to_dict(), "m": ["not", "a", "dict"]}).meta == {}
