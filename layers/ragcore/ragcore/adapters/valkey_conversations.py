"""Conversations in Valkey: three keys per conversation, all with its id as the hash tag, so
each script below touches one cluster slot (ElastiCache Serverless is a cluster):

- ``ragcore:conv:{<id>}:meta``, a hash: the owning tenant and the creation time;
- ``ragcore:conv:{<id>}:order``, a list: the turns' job ids, in the order they were asked;
- ``ragcore:conv:{<id>}:turns``, a hash: job id -> the turn as JSON.

Every write is one script, so a turn is checked and added (exists, owner, room left) or its
outcome written once (by job id) atomically, and each write sets all three keys' expiry to the
job TTL: a conversation lives as long as its newest turn's job.
"""

from __future__ import annotations

import json
from typing import Any

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.domain.conversations import Conversation, Turn, TurnAdmission
from ragcore.domain.jobs import TERMINAL

CONVERSATION_KEY_PREFIX = "ragcore:conv:"

_EXPIRE_ALL = "for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end"

# ARGV: ttl, new ('1' or '0'), owner ('' when none: auth off), created_at, job id, turn JSON,
# max turns.
_ADD_TURN_LUA = """
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[2] == '1' then
  if exists then return 'missing' end
  redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'created_at', ARGV[4])
else
  if not exists then return 'missing' end
  if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[3] then return 'missing' end
end
if redis.call('HEXISTS', KEYS[3], ARGV[5]) == 0 then
  if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[7]) then return 'full' end
  redis.call('RPUSH', KEYS[2], ARGV[5])
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
end
%s
return 'added'
""" % _EXPIRE_ALL

# ARGV: job id.
_REMOVE_TURN_LUA = """
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
"""

# ARGV: ttl, job id, the final turn as JSON, the final statuses (JSON list).
_RECORD_LUA = """
local stored = redis.call('HGET', KEYS[3], ARGV[2])
if not stored then return 0 end
local status = cjson.decode(stored).status
for _, final in ipairs(cjson.decode(ARGV[4])) do
  if status == final then return 0 end
end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
%s
return 1
""" % _EXPIRE_ALL

# The owner, the creation time, then each turn's JSON in order; nothing if there is none.
_READ_LUA = """
local meta = redis.call('HMGET', KEYS[1], 'owner', 'created_at')
if not meta[2] then return {} end
local out = {meta[1] or '', meta[2]}
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local turn = redis.call('HGET', KEYS[3], id)
  if turn then table.insert(out, turn) end
end
return out
"""

_FINAL = json.dumps(sorted(status.value for status in TERMINAL))


class ValkeyConversationStore:
    """Implements ``ports.ConversationStore``."""

    def __init__(self, client: Any, ttl_seconds: int, prefix: str = CONVERSATION_KEY_PREFIX) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._add_turn = client.register_script(_ADD_TURN_LUA)
        self._remove_turn = client.register_script(_REMOVE_TURN_LUA)
        self._record = client.register_script(_RECORD_LUA)
        self._read = client.register_script(_READ_LUA)

    def keys(self, conversation_id: str) -> list[str]:
        base = f"{self._prefix}{{{conversation_id}}}"
        return [f"{base}:meta", f"{base}:order", f"{base}:turns"]

    def add_turn(self, conversation_id: str, owner: str | None, turn: Turn, new: bool,
                 max_turns: int) -> TurnAdmission:
        args = [self._ttl, "1" if new else "0", owner or "", repr(turn.created_at), turn.job_id,
                turn.model_dump_json(), max_turns]
        with valkey_errors():
            return TurnAdmission(self._add_turn(keys=self.keys(conversation_id), args=args))

    def remove_turn(self, conversation_id: str, job_id: str) -> None:
        with valkey_errors():
            self._remove_turn(keys=self.keys(conversation_id), args=[job_id])

    def record(self, conversation_id: str, turn: Turn) -> bool:
        args = [self._ttl, turn.job_id, turn.model_dump_json(), _FINAL]
        with valkey_errors():
            return bool(self._record(keys=self.keys(conversation_id), args=args))

    def get(self, conversation_id: str) -> Conversation | None:
        with valkey_errors():
            reply = self._read(keys=self.keys(conversation_id), args=[])
        if not reply:
            return None
        owner, created_at, *turns = reply
        return Conversation(
            conversation_id=conversation_id, owner=owner or None, created_at=float(created_at),
            turns=[Turn.model_validate_json(raw) for raw in turns],
        )

    def delete(self, conversation_id: str) -> None:
        with valkey_errors():
            self._client.delete(*self.keys(conversation_id))
