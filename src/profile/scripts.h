/*
 * scripts.h - private to src/profile: the Lua scripts run in Redis.
 *
 * DESIGN
 * RG_LUA_BATCH applies one whole batch in one EVALSHA, atomically: the
 * shared entities in event order, each event's state read before its own
 * update (point in time), then the write-back of the batch's user
 * profiles. ARGV: ttl_ms, n, wall-clock minute; then per event 6 values:
 *   update(0|1) t_ms user dev_key merch_key ip_key
 * ('' when absent); then key value pairs of user profiles to SET .. PX ttl.
 * It returns 3 values per event: the device members and the IP members as
 * they stood before the event (strings), or the integer -1 when the event
 * has no such entity, and a merchant slot: -1, or 2 * m + b, where m is the
 * merchant's index in first-seen order and b is 1 when the event bumped its
 * cells. After the 3n values come the cells of each of those merchants as
 * they stood before the batch. riskgate computes the counts from them
 * (set_counts() and merch_replay() in store.c), replaying the bumps in event
 * order: the script does the reads and the atomic updates, and no
 * arithmetic that riskgate can do on its own cores.
 * Replays: riskgate passes update=0 for an event its user profile has
 * applied already (the user's partition offset mark) or that is too old.
 * The profile and its mark are written in the same script as the shared
 * updates, so a re-consumed event (a restart before the offset commit)
 * changes nothing, whatever the worker count before and after. (Until
 * 2026-11-28 merchants kept their own per partition and worker marks: two
 * more hash fields read and written per merchant, and an event or so
 * skipped or counted twice when a restart changed the worker count.)
 * Device / IP: one string <key> (kinds 'D' and 'I') holding a bounded exact
 * set of distinct users as 16-byte records: the 12 hex chars of the user's
 * pseudonym, then the latest epoch hour the user was seen as a little-
 * endian int32 (max, so re-adding is idempotent). 24 h counts members seen
 * at hour >= event hour - 23, 30 d members seen on day >= event day - 29.
 * At RG_SHARED_USERS_CAP (32) members the least recently seen one (the
 * first of the lowest hour) is overwritten, so counts saturate at 32. A
 * member is found with a plain string.find (a match counts only at a
 * record boundary) and updated in place with SETRANGE, or APPENDed: no
 * Lua table and no string rebuilt (the hash of one field per member this
 * replaces cost ~5 us of Redis CPU per set per event in HGETALL and its
 * loop). A value of the wrong length is treated as empty and replaced.
 * Why not HyperLogLog: a sliding window needs one HLL per hour/day and a
 * PFCOUNT over 24-54 keys per event, which measured ~100x slower in the
 * script (docs/profiles.md); fraud signals live in small counts, where a
 * set is exact. A set is written (SETRANGE/APPEND + PEXPIRE) only when it
 * changes: a new member, or a member's hour moving on; most events of a
 * known user on a known device write nothing, and the TTL runs from the
 * last change, at most an hour before the last event. Device fraud labels
 * are counted in a separate hash (kind 'd', field 'fraud').
 * Merchant: one string <key> (kind 'M') of RG_MERCH_BYTES: 122 cells of
 * (unit, count) as little-endian int32 pairs (struct.pack): 60 minute cells
 * (events), 31 day cells (events), 31 day cells (fraud labels by arrival
 * day), then the wall-clock minute its TTL was last set (int32). A cell of
 * an older unit is reset on bump, one of a newer unit is left alone; a
 * value of the wrong size is treated as empty and replaced. A merchant is
 * read with one GET per batch; bumps go to a Lua table of changed cells,
 * and each changed cell is written once per batch with an 8-byte SETRANGE.
 * Why: rebuilding the 976-byte string per event (and HMGET/HSET of it in a
 * hash with offset marks, the layout until 2026-11-28) was ~9 us of Redis
 * CPU per event, most of it hashing each new Lua string; this is ~4. The
 * TTL is refreshed (PEXPIRE) when the stored minute is RG_TTL_REFRESH_MIN
 * or more old (or ttl/8, if shorter), not per batch: a merchant key lives
 * at least ttl - that long after its last event. Every key written gets a
 * TTL. A set or merchant key holding a value of another type (an old
 * layout, an operator's mistake) is read with pcall and overwritten with
 * SET, so it cannot fail every batch that touches it.
 * Keys are built by riskgate and passed in, but a script touches keys
 * it was not given in KEYS, so this targets a single Redis (not Cluster).
 */
#ifndef RG_PROFILE_SCRIPTS_H
#define RG_PROFILE_SCRIPTS_H

#define RG_SHARED_USERS_CAP 32
#define RG_SHARED_USER_ID_LEN 12 /* hex chars of the user's pseudonym in a set record */

#define RG_LUA_COMMON                                                                  \
    "local HOUR, DAY, MIN = 3600000, 86400000, 60000\n"

#define RG_MERCH_CELLS 976 /* bytes of cells; the refresh minute follows */
#define RG_MERCH_BYTES 980
#define RG_TTL_REFRESH_MIN 60
/* numbers spelled into the Lua text, so C and Lua share one definition */
#define RG_LUA_STR_(x) #x
#define RG_LUA_STR(x) RG_LUA_STR_(x)
#define RG_LUA_MBYTES RG_LUA_STR(RG_MERCH_BYTES)
#define RG_LUA_MCELLS RG_LUA_STR(RG_MERCH_CELLS)

#define RG_LUA_BATCH                                                                   \
    RG_LUA_COMMON                                                                     \
    "local ttls = ARGV[1]\n"                                                          \
    "local ttl = tonumber(ttls)\n"                                                    \
    "local n = tonumber(ARGV[2])\n"                                                   \
    "local nowmin = tonumber(ARGV[3])\n"                                              \
    "local REFRESH = math.min(math.floor(ttl / 8 / MIN), " RG_LUA_STR(RG_TTL_REFRESH_MIN) ")\n" \
    "local MZERO = string.rep('\\0', " RG_LUA_MBYTES ")\n"                            \
    "local CAP = 32\n"                                                                \
    "local res = {}\n"                                                                \
    "local mcache, morder = {}, {}\n"                                                  \
    "local function users(k, hour, u, upd)\n"                                           \
    "  local s = redis.pcall('GET', k)\n"                                               \
    "  local wrong = type(s) == 'table' -- an error reply: a key of another type\n"     \
    "  if wrong or not s then s = '' end\n"                                             \
    "  local bad = wrong or #s % 16 ~= 0 or #s > 16 * CAP\n"                            \
    "  if bad then s = '' end\n"                                                        \
    "  if upd then\n"                                                                   \
    "    local rec = u .. struct.pack('<i', hour)\n"                                    \
    "    local at, p = nil, 1\n"                                                        \
    "    while true do\n"                                                               \
    "      p = string.find(s, u, p, true)\n"                                            \
    "      if not p then break end\n"                                                   \
    "      if p % 16 == 1 then at = p; break end\n"                                     \
    "      p = p + 1\n"                                                                 \
    "    end\n"                                                                         \
    "    if bad then redis.call('SET', k, rec, 'PX', ttls)\n"                            \
    "    elseif at then\n"                                                              \
    "      if hour > struct.unpack('<i', s, at + 12) then\n"                            \
    "        redis.call('SETRANGE', k, at + 11, string.sub(rec, 13))\n"                 \
    "        redis.call('PEXPIRE', k, ttls)\n"                                           \
    "      end\n"                                                                       \
    "    elseif #s < 16 * CAP then\n"                                                   \
    "      redis.call('APPEND', k, rec)\n"                                              \
    "      redis.call('PEXPIRE', k, ttls)\n"                                             \
    "    else\n"                                                                        \
    "      local mo, mh = 1, struct.unpack('<i', s, 13)\n"                              \
    "      for o = 17, #s, 16 do\n"                                                     \
    "        local h = struct.unpack('<i', s, o + 12)\n"                                \
    "        if h < mh then mo, mh = o, h end\n"                                        \
    "      end\n"                                                                       \
    "      if mh < hour then\n"                                                         \
    "        redis.call('SETRANGE', k, mo - 1, rec)\n"                                  \
    "        redis.call('PEXPIRE', k, ttls)\n"                                           \
    "      end\n"                                                                       \
    "    end\n"                                                                         \
    "  end\n"                                                                           \
    "  return s\n"                                                                      \
    "end\n"                                                                             \
    "-- one cell of a merchant, through the batch's table of changed cells\n"         \
    "local function mbump(c, off, unit)\n"                                              \
    "  local m = c.mod[off]\n"                                                          \
    "  local u, k\n"                                                                    \
    "  if m then u, k = m[1], m[2] else u, k = struct.unpack('<ii', c.s, off + 1) end\n" \
    "  if k > 0 and u == unit then k = k + 1\n"                                         \
    "  elseif k == 0 or u < unit then u = unit; k = 1\n"                                \
    "  else return end\n"                                                               \
    "  if m then m[1] = u; m[2] = k else c.mod[off] = {u, k} end\n"                     \
    "end\n"                                                                             \
    "local i = 4\n"                                                                   \
    "for e = 1, n do\n"                                                               \
    "  local upd = ARGV[i] == '1'\n"                                                  \
    "  local t = tonumber(ARGV[i + 1])\n"                                             \
    "  local u = ARGV[i + 2]\n"                                                       \
    "  local dk, mk, ik = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]\n"                    \
    "  i = i + 6\n"                                                                   \
    "  local hour = math.floor(t / HOUR)\n"                                           \
    "  local dev, ip, ms = -1, -1, -1\n"                                             \
    "  if dk ~= '' then dev = users(dk, hour, u, upd) end\n"                         \
    "  if ik ~= '' then ip = users(ik, hour, u, upd) end\n"                          \
    "  if mk ~= '' then\n"                                                            \
    "    local c = mcache[mk]\n"                                                      \
    "    if not c then\n"                                                             \
    "      local v = redis.pcall('GET', mk)\n"                                        \
    "      local ok = type(v) == 'string' and #v == " RG_LUA_MBYTES "\n"            \
    "      c = {s = ok and v or MZERO, whole = not ok, mod = {}, ord = #morder}\n"    \
    "      mcache[mk] = c\n"                                                          \
    "      morder[#morder + 1] = mk\n"                                                \
    "    end\n"                                                                       \
    "    ms = 2 * c.ord\n"                                                            \
    "    if upd then\n"                                                               \
    "      local minute, day = math.floor(t / MIN), math.floor(t / DAY)\n"            \
    "      mbump(c, 8 * (minute % 60), minute)\n"                                     \
    "      mbump(c, 4 * (120 + 2 * (day % 31)), day)\n"                               \
    "      ms = ms + 1\n"                                                             \
    "    end\n"                                                                       \
    "  end\n"                                                                         \
    "  res[#res + 1] = dev; res[#res + 1] = ip; res[#res + 1] = ms\n"                 \
    "end\n"                                                                           \
    "-- Merchants: each changed cell written once, the TTL refreshed when due.\n"    \
    "-- A merchant with nothing to store is not created.\n"                          \
    "for _, mk in ipairs(morder) do\n"                                                \
    "  local c = mcache[mk]\n"                                                        \
    "  local changed = next(c.mod) ~= nil\n"                                          \
    "  if c.whole and changed then\n"                                                 \
    "    redis.call('SET', mk, MZERO, 'PX', ttls)\n"                                   \
    "  end\n"                                                                         \
    "  for off, m in pairs(c.mod) do\n"                                               \
    "    redis.call('SETRANGE', mk, off, struct.pack('<ii', m[1], m[2]))\n"          \
    "  end\n"                                                                         \
    "  local was = struct.unpack('<i', c.s, " RG_LUA_MCELLS " + 1)\n"                 \
    "  if changed and (c.whole or nowmin < was or nowmin - was >= REFRESH) then\n"   \
    "    redis.call('SETRANGE', mk, " RG_LUA_MCELLS ", struct.pack('<i', nowmin))\n" \
    "    redis.call('PEXPIRE', mk, ttls)\n"                                            \
    "  end\n"                                                                         \
    "  res[#res + 1] = c.s\n"                                                         \
    "end\n"                                                                           \
    "for j = i, #ARGV, 2 do redis.call('SET', ARGV[j], ARGV[j + 1], 'PX', ttls) end\n" \
    "return res\n"

/* ARGV: ttl_ms, then key value pairs. SET each with PX ttl. */
#define RG_LUA_USERS                                                                   \
    "local ttl = ARGV[1]\n"                                                           \
    "for j = 2, #ARGV, 2 do redis.call('SET', ARGV[j], ARGV[j + 1], 'PX', ttl) end\n" \
    "return (#ARGV - 1) / 2\n"

/* ARGV: ttl_ms, dedup_key, merch_key|'', dev_key|'', at_ms. Returns 1
 * applied, 0 duplicate label. The fraud cell of the label's arrival day is
 * bumped as RG_LUA_BATCH bumps cells. */
#define RG_LUA_LABEL                                                                   \
    RG_LUA_COMMON                                                                     \
    "if not redis.call('SET', ARGV[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end\n" \
    "local day = math.floor(tonumber(ARGV[5]) / DAY)\n"                               \
    "if ARGV[3] ~= '' then\n"                                                         \
    "  local v = redis.pcall('GET', ARGV[3])\n"                                      \
    "  if type(v) ~= 'string' or #v ~= " RG_LUA_MBYTES " then\n"                    \
    "    v = string.rep('\\0', " RG_LUA_MBYTES ")\n"                                  \
    "    redis.call('SET', ARGV[3], v)\n"                                             \
    "  end\n"                                                                         \
    "  local off = 4 * (182 + 2 * (day % 31))\n"                                      \
    "  local u, k = struct.unpack('<ii', v, off + 1)\n"                              \
    "  if k > 0 and u == day then k = k + 1\n"                                        \
    "  elseif k == 0 or u < day then u = day; k = 1\n"                                \
    "  else u = nil end\n"                                                            \
    "  if u then redis.call('SETRANGE', ARGV[3], off, struct.pack('<ii', u, k)) end\n" \
    "  redis.call('PEXPIRE', ARGV[3], ARGV[1])\n"                                     \
    "end\n"                                                                           \
    "if ARGV[4] ~= '' then\n"                                                         \
    "  redis.call('HINCRBY', ARGV[4], 'fraud', 1)\n"                                  \
    "  redis.call('PEXPIRE', ARGV[4], ARGV[1])\n"                                     \
    "end\n"                                                                           \
    "return 1\n"

#endif
