/*
 * scripts.h - private to src/profile: the Lua scripts run in Redis.
 *
 * DESIGN
 * RG_LUA_SHARED applies one whole batch to the shared entities in one
 * EVALSHA, in event order, reading each event's features before its own
 * update (point in time). ARGV: ttl_ms, n, worker index; then per event
 * 8 values:
 *   update(0|1) partition offset t_ms user dev_key merch_key ip_key
 * ('' when absent). It returns 3 values per event, each the entity's state
 * as it stood before the event, or the integer -1 when the event has no
 * such entity: device members, IP members, merchant cells. riskgate
 * computes the counts from them (shared_counts() and merch_sums() in
 * store.c): the script does the reads and the atomic updates, and no
 * arithmetic that riskgate can do on its own cores.
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
 * Merchant: one hash <key>: field C packs 122 cells of (unit, count) as
 * little-endian int32 pairs (struct.pack): 60 minute cells (events), 31 day
 * cells (events), 31 day cells (fraud labels by arrival day); a cell of an
 * older unit is reset on bump, one of a newer unit is left alone; a value
 * of the wrong size is treated as empty and replaced. Why packed: HGETALL
 * of 122 separate fields cost ~50 us per event in the script. The string
 * is read once per batch, cells are bumped with string operations (two
 * 8-byte cells per event; unpacking and repacking all 244 integers per
 * event cost ~25 us of Redis CPU), and the string as it stood before each
 * event is returned in that event's merchant slot: riskgate sums the
 * windows itself (merch_sums() in store.c). Field p<partition>:<worker> = the highest
 * offset that worker applied, so a re-consumed event (offset <= mark)
 * changes nothing. Per worker, because the engine shards a partition's
 * events over its workers by user: each worker sees a partition's offsets
 * in order, but two workers interleave, and one mark per partition skipped
 * the lower offsets of the slower worker as replays (merchant counts lost
 * with 2 workers; test_workers_interleaved_offsets_count_once). After a
 * restart with another worker count, events up to one batch around the
 * restart point may be skipped or counted twice. A merchant is read
 * with one HMGET (cells and the first event's mark) and written with one
 * HSET of its changed fields per batch. Every key written gets a TTL. Keys are built inside the script, so this targets a single
 * Redis (not Cluster).
 */
#ifndef RG_PROFILE_SCRIPTS_H
#define RG_PROFILE_SCRIPTS_H

#define RG_SHARED_USERS_CAP 32
#define RG_SHARED_USER_ID_LEN 12 /* hex chars of the user's pseudonym in a set record */

#define RG_LUA_COMMON                                                                  \
    "local HOUR, DAY, MIN = 3600000, 86400000, 60000\n"                               \
    "local function fmt(v) return string.format('%.0f', v) end\n"                    \
    "local ZERO = string.rep('\\0', 976)\n"                                            \
    "local function norm(s) if (not s) or #s ~= 976 then return ZERO end return s end\n" \
    "local function sbump(s, base, mod, unit)\n"                                      \
    "  local off = (base + 2 * (unit % mod)) * 4\n"                                  \
    "  local u, n = struct.unpack('<ii', s, off + 1)\n"                              \
    "  if n > 0 and u == unit then n = n + 1\n"                                      \
    "  elseif n == 0 or u < unit then u = unit; n = 1\n"                             \
    "  else return s end\n"                                                          \
    "  return string.sub(s, 1, off) .. struct.pack('<ii', u, n) .. string.sub(s, off + 9)\n" \
    "end\n"                                                                           \
    "-- the minute and the day cell of one event in one rebuild of the string\n"     \
    "local function cellnew(s, off, unit)\n"                                         \
    "  local u, n = struct.unpack('<ii', s, off + 1)\n"                              \
    "  if n > 0 and u == unit then return struct.pack('<ii', u, n + 1) end\n"        \
    "  if n == 0 or u < unit then return struct.pack('<ii', unit, 1) end\n"          \
    "  return string.sub(s, off + 1, off + 8)\n"                                     \
    "end\n"                                                                           \
    "local function sbump2(s, minute, day)\n"                                        \
    "  local o1, o2 = 8 * (minute % 60), 4 * (120 + 2 * (day % 31))\n"               \
    "  return string.sub(s, 1, o1) .. cellnew(s, o1, minute) .. string.sub(s, o1 + 9, o2)\n" \
    "         .. cellnew(s, o2, day) .. string.sub(s, o2 + 9)\n"                       \
    "end\n"


#define RG_LUA_SHARED                                                                  \
    RG_LUA_COMMON                                                                     \
    "local ttl = tonumber(ARGV[1])\n"                                                 \
    "local n = tonumber(ARGV[2])\n"                                                   \
    "local wk = ':' .. ARGV[3]\n"                                                      \
    "local CAP = 32\n"                                                   \
    "local res = {}\n"                                                                \
    "local mcache, morder = {}, {}\n"                                                  \
    "local i = 4\n"                                                                   \
    "local function users(k, hour, u, upd)\n"                                           \
    "  local s = redis.call('GET', k)\n"                                                \
    "  if not s then s = '' end\n"                                                      \
    "  local bad = #s % 16 ~= 0 or #s > 16 * CAP\n"                                     \
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
    "    if bad then redis.call('SET', k, rec, 'PX', ttl)\n"                            \
    "    elseif at then\n"                                                              \
    "      if hour > struct.unpack('<i', s, at + 12) then\n"                            \
    "        redis.call('SETRANGE', k, at + 11, string.sub(rec, 13))\n"                 \
    "        redis.call('PEXPIRE', k, ttl)\n"                                           \
    "      end\n"                                                                       \
    "    elseif #s < 16 * CAP then\n"                                                   \
    "      redis.call('APPEND', k, rec)\n"                                              \
    "      redis.call('PEXPIRE', k, ttl)\n"                                             \
    "    else\n"                                                                        \
    "      local mo, mh = 1, struct.unpack('<i', s, 13)\n"                              \
    "      for o = 17, #s, 16 do\n"                                                     \
    "        local h = struct.unpack('<i', s, o + 12)\n"                                \
    "        if h < mh then mo, mh = o, h end\n"                                        \
    "      end\n"                                                                       \
    "      if mh < hour then\n"                                                         \
    "        redis.call('SETRANGE', k, mo - 1, rec)\n"                                  \
    "        redis.call('PEXPIRE', k, ttl)\n"                                           \
    "      end\n"                                                                       \
    "    end\n"                                                                         \
    "  end\n"                                                                           \
    "  return s\n"                                                                      \
    "end\n"                                                                             \
    "for e = 1, n do\n"                                                               \
    "  local upd = ARGV[i] == '1'\n"                                                  \
    "  local part = ARGV[i + 1]\n"                                                    \
    "  local off = tonumber(ARGV[i + 2])\n"                                           \
    "  local t = tonumber(ARGV[i + 3])\n"                                             \
    "  local u = ARGV[i + 4]\n"                                                       \
    "  local dk, mk, ik = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]\n"                    \
    "  i = i + 8\n"                                                                   \
    "  local hour, day, minute = math.floor(t / HOUR), math.floor(t / DAY), math.floor(t / MIN)\n" \
    "  local dev, ip = -1, -1\n"                                                     \
    "  if dk ~= '' then dev = users(dk, hour, u, upd) end\n"                         \
    "  if ik ~= '' then ip = users(ik, hour, u, upd) end\n"                          \
    "  local mcells = -1\n"                                                          \
    "  if mk ~= '' then\n"                                                            \
    "    local c = mcache[mk]\n"                                                      \
    "    local pk = 'p' .. part .. wk\n"                                              \
    "    if not c then\n"                                                             \
    "      local v = redis.call('HMGET', mk, 'C', pk)\n"                              \
    "      c = {s = norm(v[1]), hw = {}, hwd = {}, touch = false}\n"                  \
    "      c.hw[pk] = tonumber(v[2]) or false\n"                                      \
    "      mcache[mk] = c\n"                                                          \
    "      morder[#morder + 1] = mk\n"                                                \
    "    end\n"                                                                       \
    "    mcells = c.s\n"                                                              \
    "    local fresh = true\n"                                                        \
    "    if off >= 0 then\n"                                                          \
    "      local hw = c.hw[pk]\n"                                                     \
    "      if hw == nil then hw = tonumber(redis.call('HGET', mk, pk)) or false end\n" \
    "      if hw and off <= hw then c.hw[pk] = hw; fresh = false\n"                   \
    "      else c.hw[pk] = off; c.hwd[pk] = true end\n"                               \
    "    end\n"                                                                       \
    "    if fresh and upd then\n"                                                     \
    "      c.s = sbump2(c.s, minute, day)\n"                                          \
    "      c.cells_dirty = true\n"                                                    \
    "    end\n"                                                                       \
    "    if fresh or off < 0 then c.touch = true end\n"                               \
    "  end\n"                                                                         \
    "  res[#res + 1] = dev; res[#res + 1] = ip; res[#res + 1] = mcells\n"              \
    "end\n"                                                                           \
    "-- Merchants are read once per batch and written back once, in first-seen\n"   \
    "-- order, with one HSET of every changed field: a popular merchant appears\n"  \
    "-- many times in one batch. Marks are written in partition order.\n"          \
    "for _, mk in ipairs(morder) do\n"                                                \
    "  local c = mcache[mk]\n"                                                        \
    "  local a = {}\n"                                                                \
    "  if c.cells_dirty then a[1] = 'C'; a[2] = c.s end\n"                           \
    "  local pks = {}\n"                                                              \
    "  for pk in pairs(c.hwd) do pks[#pks + 1] = pk end\n"                           \
    "  table.sort(pks)\n"                                                             \
    "  for _, pk in ipairs(pks) do a[#a + 1] = pk; a[#a + 1] = fmt(c.hw[pk]) end\n"  \
    "  if #a > 0 then redis.call('HSET', mk, unpack(a)) end\n"                       \
    "  if c.touch then redis.call('PEXPIRE', mk, ttl) end\n"                           \
    "end\n"                                                                           \
    "return res\n"

/* ARGV: ttl_ms, then key value pairs. SET each with PX ttl. */
#define RG_LUA_USERS                                                                   \
    "local ttl = ARGV[1]\n"                                                           \
    "for j = 2, #ARGV, 2 do redis.call('SET', ARGV[j], ARGV[j + 1], 'PX', ttl) end\n" \
    "return (#ARGV - 1) / 2\n"

/* ARGV: ttl_ms, dedup_key, merch_key|'', dev_key|'', at_ms. Returns 1
 * applied, 0 duplicate label. */
#define RG_LUA_LABEL                                                                   \
    RG_LUA_COMMON                                                                     \
    "if not redis.call('SET', ARGV[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end\n" \
    "local day = math.floor(tonumber(ARGV[5]) / DAY)\n"                               \
    "if ARGV[3] ~= '' then\n"                                                         \
    "  local cs = sbump(norm(redis.call('HGET', ARGV[3], 'C')), 182, 31, day)\n"     \
    "  redis.call('HSET', ARGV[3], 'C', cs)\n"                                       \
    "  redis.call('PEXPIRE', ARGV[3], ARGV[1])\n"                                     \
    "end\n"                                                                           \
    "if ARGV[4] ~= '' then\n"                                                         \
    "  redis.call('HINCRBY', ARGV[4], 'fraud', 1)\n"                                  \
    "  redis.call('PEXPIRE', ARGV[4], ARGV[1])\n"                                     \
    "end\n"                                                                           \
    "return 1\n"

#endif
