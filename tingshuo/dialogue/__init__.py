"""Voice dialogue: speech in, understanding and an answer, speech out — streamed, with barge-in.

The pipeline (tingshuo/dialogue/pipeline.py) is a chain of processors passing typed frames
(frames.py); brains (brains/) answer a user turn as a stream of text; the transport (files, a
microphone, a WebSocket) stays outside.
"""
