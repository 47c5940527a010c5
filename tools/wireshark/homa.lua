-- homa.lua - a Wireshark dissector for Homa packets: the Linux module's
-- wire format (IP protocol 146) and uhoma's UDP carrier, which puts the
-- same bytes at the start of each UDP payload (homa-protocol.md §1).
--
-- Install: copy into ~/.local/lib/wireshark/plugins/ (or run
--   tshark -X lua_script:homa.lua ...). Display filters start with "homa."
--   e.g.  homa.type == 0x10 && homa.data.offset > 0
--
-- UDP packets are recognised by content, whatever the port: at least 28
-- bytes, a type in 0x10..0x18, flags 6 (SYN|RST) and urgent 0xB97D -- the
-- values the module writes in its TCP-shaped common header.

local homa = Proto("homa", "Homa")

local types = {
  [0x10] = "DATA", [0x11] = "GRANT", [0x12] = "RESEND",
  [0x13] = "RPC_UNKNOWN", [0x14] = "BUSY", [0x15] = "CUTOFFS",
  [0x16] = "FREEZE", [0x17] = "NEED_ACK", [0x18] = "ACK",
}
-- Full header length of each type: shorter packets are malformed.
local header_len = {
  [0x10] = 56, [0x11] = 33, [0x12] = 37, [0x13] = 28, [0x14] = 28,
  [0x15] = 62, [0x16] = 28, [0x17] = 28, [0x18] = 80,
}

local f = homa.fields
f.sport    = ProtoField.uint16("homa.sport", "Source port")
f.dport    = ProtoField.uint16("homa.dport", "Destination port")
f.sequence = ProtoField.uint32("homa.sequence", "Sequence")
f.type     = ProtoField.uint8("homa.type", "Type", base.HEX, types)
f.doff     = ProtoField.uint8("homa.doff", "Data offset", base.HEX)
f.flags    = ProtoField.uint8("homa.flags", "Flags", base.HEX)
f.checksum = ProtoField.uint16("homa.checksum", "Checksum", base.HEX)
f.urgent   = ProtoField.uint16("homa.urgent", "Urgent", base.HEX)
f.id       = ProtoField.uint64("homa.id", "Sender's RPC id")
f.client   = ProtoField.bool("homa.from_client", "Sent by the client")

f.msg_len   = ProtoField.uint32("homa.data.message_length", "Message length")
f.incoming  = ProtoField.uint32("homa.data.incoming", "Incoming")
f.ack_id    = ProtoField.uint64("homa.data.ack_id", "Piggybacked ack: client id")
f.ack_port  = ProtoField.uint16("homa.data.ack_port", "Piggybacked ack: server port")
f.cutoff_v  = ProtoField.uint16("homa.data.cutoff_version", "Cutoff version")
f.retrans   = ProtoField.uint8("homa.data.retransmit", "Retransmit")
f.seg_off   = ProtoField.uint32("homa.data.seg_offset", "Segment offset field", base.HEX)
f.offset    = ProtoField.uint32("homa.data.offset", "Offset")
f.seg_len   = ProtoField.uint32("homa.data.length", "Payload bytes")
f.payload   = ProtoField.bytes("homa.data.payload", "Payload")

f.g_offset  = ProtoField.uint32("homa.grant.offset", "Granted offset")
f.g_prio    = ProtoField.uint8("homa.grant.priority", "Priority")
f.r_offset  = ProtoField.uint32("homa.resend.offset", "Offset")
f.r_length  = ProtoField.uint32("homa.resend.length", "Length")
f.r_all     = ProtoField.bool("homa.resend.all", "Everything sent so far")
f.r_prio    = ProtoField.uint8("homa.resend.priority", "Priority")
f.cutoff    = ProtoField.uint32("homa.cutoffs.cutoff", "Cutoff")
f.c_version = ProtoField.uint16("homa.cutoffs.version", "Version")
f.num_acks  = ProtoField.uint16("homa.ack.num_acks", "Acks")
f.a_id      = ProtoField.uint64("homa.ack.client_id", "Client id")
f.a_port    = ProtoField.uint16("homa.ack.server_port", "Server port")

local e_short = ProtoExpert.new("homa.short", "Shorter than its type's header",
                                expert.group.MALFORMED, expert.severity.ERROR)
local e_type = ProtoExpert.new("homa.bad_type", "Unknown packet type",
                               expert.group.MALFORMED, expert.severity.ERROR)
local e_acks = ProtoExpert.new("homa.bad_acks", "More than 5 acks",
                               expert.group.MALFORMED, expert.severity.ERROR)
homa.experts = { e_short, e_type, e_acks }

local function dissect(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol = "Homa"
  local t = tree:add(homa, tvb(), "Homa")
  if len < 28 then
    t:add_proto_expert_info(e_short)
    pinfo.cols.info = "Homa (truncated)"
    return len
  end
  local ptype = tvb(11, 1):uint()
  local id = tvb(20, 8):uint64()
  t:add(f.sport, tvb(0, 2))
  t:add(f.dport, tvb(2, 2))
  t:add(f.sequence, tvb(4, 4))
  t:add(f.type, tvb(11, 1))
  t:add(f.doff, tvb(12, 1))
  t:add(f.flags, tvb(13, 1))
  t:add(f.checksum, tvb(16, 2))
  t:add(f.urgent, tvb(18, 2))
  t:add(f.id, tvb(20, 8))
  t:add(f.client, tvb(27, 1), (tvb(27, 1):uint() % 2) == 0)
  local name = types[ptype]
  if not name then
    t:add_proto_expert_info(e_type)
    pinfo.cols.info = string.format("Homa unknown type 0x%02x", ptype)
    return len
  end
  local info = string.format("%s %u > %u id=%s", name, tvb(0, 2):uint(),
                             tvb(2, 2):uint(), tostring(id))
  t:append_text(", " .. name)
  if len < header_len[ptype] then
    t:add_proto_expert_info(e_short)
    pinfo.cols.info = info .. " (truncated)"
    return len
  end
  if ptype == 0x10 then
    local seg = tvb(52, 4):uint()
    local offset = seg == 0xFFFFFFFF and tvb(4, 4):uint() or seg
    t:add(f.msg_len, tvb(28, 4))
    t:add(f.incoming, tvb(32, 4))
    t:add(f.ack_id, tvb(36, 8))
    t:add(f.ack_port, tvb(44, 2))
    t:add(f.cutoff_v, tvb(46, 2))
    t:add(f.retrans, tvb(48, 1))
    t:add(f.seg_off, tvb(52, 4))
    t:add(f.offset, tvb(52, 4), offset)
    t:add(f.seg_len, len - 56)
    if len > 56 then t:add(f.payload, tvb(56)) end
    info = info .. string.format(" offset=%u bytes=%u length=%u", offset,
                                 len - 56, tvb(28, 4):uint())
    if tvb(48, 1):uint() ~= 0 then info = info .. " retransmit" end
  elseif ptype == 0x11 then
    t:add(f.g_offset, tvb(28, 4))
    t:add(f.g_prio, tvb(32, 1))
    info = info .. string.format(" offset=%u prio=%u", tvb(28, 4):uint(),
                                 tvb(32, 1):uint())
  elseif ptype == 0x12 then
    local rlen = tvb(32, 4):uint()
    t:add(f.r_offset, tvb(28, 4))
    t:add(f.r_length, tvb(32, 4))
    t:add(f.r_all, tvb(32, 4), rlen == 0xFFFFFFFF)
    t:add(f.r_prio, tvb(36, 1))
    info = info .. string.format(" offset=%u length=%s prio=%u",
                                 tvb(28, 4):uint(),
                                 rlen == 0xFFFFFFFF and "all" or tostring(rlen),
                                 tvb(36, 1):uint())
  elseif ptype == 0x15 then
    local c = t:add(homa, tvb(28, 32), "Unscheduled cutoffs")
    local parts = {}
    for i = 0, 7 do
      c:add(f.cutoff, tvb(28 + 4 * i, 4)):prepend_text("[" .. i .. "] ")
      parts[#parts + 1] = tostring(tvb(28 + 4 * i, 4):uint())
    end
    t:add(f.c_version, tvb(60, 2))
    info = info .. " version=" .. tvb(60, 2):uint() ..
           " cutoffs=" .. table.concat(parts, ",")
  elseif ptype == 0x18 then
    local n = tvb(28, 2):uint()
    t:add(f.num_acks, tvb(28, 2))
    if n > 5 then
      t:add_proto_expert_info(e_acks)
      n = 5
    end
    for i = 0, n - 1 do
      local a = t:add(homa, tvb(30 + 10 * i, 10), "Ack " .. i)
      a:add(f.a_id, tvb(30 + 10 * i, 8))
      a:add(f.a_port, tvb(38 + 10 * i, 2))
    end
    info = info .. " acks=" .. n
  end
  pinfo.cols.info = info
  return len
end

function homa.dissector(tvb, pinfo, tree)
  return dissect(tvb, pinfo, tree)
end

-- The module's packets: IP protocol 146.
DissectorTable.get("ip.proto"):add(146, homa)

-- uhoma's UDP carrier: recognise the common header's fixed values.
local function heuristic(tvb, pinfo, tree)
  if tvb:len() < 28 then return false end
  local ptype = tvb(11, 1):uint()
  if ptype < 0x10 or ptype > 0x18 then return false end
  if tvb(13, 1):uint() ~= 6 or tvb(18, 2):uint() ~= 0xB97D then
    return false
  end
  dissect(tvb, pinfo, tree)
  return true
end
homa:register_heuristic("udp", heuristic)
