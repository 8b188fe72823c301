"""Understanding what sellers type: one layer, below the dialogue engine, Telegram-free.

`Understanding.read` turns a message into answers to questionnaire steps (with confidences),
whether it is a question and the best knowledge-base entries, and the plain facts it states
(money amounts, durations, platforms). Everything it knows comes from examples in dialogs/ and
knowledge/; see README "Understanding" for the model.
"""
