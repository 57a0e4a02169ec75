-- DCAS for Wireshark and tshark: the link framing (docs/spec.md §13.1), every message of both
-- profiles field by field (§6), and the trace records that `--trace` writes (§19).
--
-- Load it with `tshark -X lua_script:dcas.lua -r run.pcapng`, or copy it to
-- ~/.local/lib/wireshark/plugins/ for Wireshark (the Debian package installs it as
-- /usr/share/dcas/wireshark/dcas.lua). A trace's packets are exported PDUs naming the
-- `dcas_trace` dissector; a capture of a host-AP connection decodes with Decode As... TCP port -> DCAS.
--
-- Filters: dcas.type == 0x13, dcas.profile == 2, dcas.sm_id == 41:ca:25:25:9d:51:b0:a1,
-- dcas.frame.kind == 0x7f, dcas.frame.error == 37, dcas_trace.link == 3, dcas.field.tag == 0x0080.
-- The tables below are the C++ registries' (the test suite compares them).

local dcas_trace = Proto("dcas_trace", "DCAS trace record")
local dcas = Proto("dcas", "DCAS")

local message_types = {
  [0x01] = "TPCertReq (SM->TP)",
  [0x02] = "TPCertRsp (TP->SM)",
  [0x03] = "KeyRequest (SM->AP)",
  [0x04] = "KeyRequest (AP->TA)",
  [0x05] = "KeyResponse (TA->AP)",
  [0x06] = "KeyResponse (AP->SM)",
  [0x07] = "CWEKGenInfo (SM->TP)",
  [0x08] = "CWEKGenInfoCnfm (TP->SM)",
  [0x10] = "ControlWord (SM->TP)",
  [0x20] = "SecurityAnnounce (AP->SM)",
  [0x21] = "DCASDownload (AP->SM)",
  [0x22] = "HostPresence (AP->TA)",
  [0x23] = "ImageKeyRequest (SM->AP)",
  [0x24] = "ImageKeyGrant (AP->SM)",
  [0x25] = "ClientImage (PS->SM)",
  [0x40] = "EMM (CAS->SM)",
  [0x41] = "ECM (CAS->SM)",
  [0x11] = "TPCertReq (SM->TP, h1)",
  [0x12] = "TPCertRsp (TP->SM, h1)",
  [0x13] = "KeyRequest (SM->AP, h1)",
  [0x14] = "KeyRequest (AP->TA, h1)",
  [0x15] = "KeyResponse (TA->AP, h1)",
  [0x16] = "KeyResponse (AP->SM, h1)",
  [0x17] = "CWEKGenInfo (SM->TP, h1)",
  [0x18] = "CWEKGenInfoCnfm (TP->SM, h1)",
}
local field_names = {
  [0x0001] = "ap_id",
  [0x0002] = "encrypted_key_pairing_id",
  [0x0003] = "encrypted_kpk",
  [0x0004] = "encrypted_kpk_rand_hmac",
  [0x0005] = "encrypted_key_hashes",
  [0x0006] = "ta_kpk_signature",
  [0x0010] = "sequence",
  [0x0011] = "issued_at",
  [0x0012] = "cw_layout",
  [0x0013] = "cw_ciphertext",
  [0x0020] = "network_id",
  [0x0021] = "image_version",
  [0x0022] = "sm_id",
  [0x0023] = "presence",
  [0x0024] = "nonce",
  [0x0025] = "encrypted_image_key",
  [0x0026] = "iv",
  [0x0027] = "image_ciphertext",
  [0x0040] = "product_id",
  [0x0041] = "expires_at",
  [0x0042] = "entitlement_ciphertext",
  [0x0043] = "crypto_period",
  [0x0044] = "key_epoch",
  [0x0030] = "sm_nonce",
  [0x0031] = "tp_nonce",
  [0x0032] = "tp_id",
  [0x0033] = "ephemeral_key",
  [0x0034] = "tp_hello",
  [0x0035] = "sm_request",
  [0x0036] = "pairing_statement",
  [0x0037] = "kpk_for_sm",
  [0x0038] = "kpk_for_tp",
  [0x0039] = "not_after",
  [0x003a] = "result",
  [0x003b] = "confirmation",
  [0x007e] = "signature",
  [0x007f] = "mac",
  [0x0080] = "certificate",
  [0x0081] = "crl",
}
local error_names = {
  [1] = "invalid_argument",
  [2] = "bad_hex",
  [3] = "bad_length",
  [4] = "already_exists",
  [5] = "not_found",
  [10] = "crypto_failure",
  [11] = "decrypt_failed",
  [12] = "signature_invalid",
  [13] = "mac_invalid",
  [14] = "key_invalid",
  [15] = "random_failure",
  [20] = "io_error",
  [21] = "pem_invalid",
  [30] = "cert_invalid",
  [31] = "cert_foreign",
  [32] = "cert_expired",
  [33] = "cert_not_yet_valid",
  [34] = "cert_wrong_role",
  [35] = "cert_bad_signature",
  [36] = "cert_bad_id",
  [37] = "cert_revoked",
  [38] = "crl_invalid",
  [40] = "wire_truncated",
  [41] = "wire_trailing_bytes",
  [42] = "wire_too_large",
  [43] = "wire_bad_version",
  [44] = "wire_unknown_profile",
  [45] = "wire_unknown_type",
  [46] = "wire_reserved_flags",
  [47] = "wire_unknown_mandatory_field",
  [48] = "wire_duplicate_field",
  [49] = "wire_field_order",
  [50] = "wire_field_length",
  [51] = "wire_missing_field",
  [52] = "wire_unexpected_field",
  [60] = "selftest_failed",
  [70] = "unexpected_message",
  [72] = "id_mismatch",
  [73] = "bad_plaintext",
  [74] = "pairing_refused",
  [75] = "key_confirmation_failed",
  [76] = "unknown_device",
  [77] = "cw_replayed",
  [78] = "cw_stale",
  [79] = "no_announce",
  [80] = "not_fresh",
  [81] = "profile_mismatch",
  [82] = "load_test_identity",
  [90] = "ts_sync_lost",
  [91] = "ts_truncated_packet",
  [92] = "ts_bad_adaptation_field",
  [93] = "ts_bad_section",
  [94] = "ts_bad_crc",
  [95] = "ts_reserved_scrambling",
  [96] = "ts_no_elementary_stream",
  [100] = "store_error",
  [101] = "store_schema",
  [102] = "store_key_invalid",
  [103] = "store_unavailable",
  [110] = "net_bad_frame",
  [111] = "net_frame_too_large",
  [112] = "net_timeout",
  [113] = "net_closed",
  [114] = "net_busy",
  [115] = "net_shutting_down",
  [116] = "net_unavailable",
  [117] = "net_io",
  [118] = "net_tls",
  [120] = "image_not_authenticated",
  [121] = "image_unavailable",
  [122] = "image_wrong_target",
  [123] = "image_downgrade",
  [124] = "image_invalid",
  [125] = "no_image",
  [130] = "not_entitled",
  [131] = "entitlement_expired",
  [132] = "ecm_replayed",
  [133] = "not_addressed",
  [134] = "emm_replayed",
  [140] = "trace_invalid",
}

-- Fields whose value is a big-endian u64 (§6.3).
local integer_fields = {
  [0x0010] = true, [0x0011] = true, [0x0021] = true, [0x0039] = true,
  [0x0040] = true, [0x0041] = true, [0x0043] = true, [0x0044] = true,
}
-- Fields that are times: milliseconds (or, for expires_at, seconds) since the Unix epoch.
local time_fields = { [0x0011] = 1000, [0x0039] = 1000, [0x0041] = 1 }
-- Fields that hold a whole message (hardened1): dissected in place.
local nested_fields = { [0x0034] = true, [0x0035] = true, [0x0036] = true }
-- Fields handed to Wireshark's X.509 dissectors.
local pkix_fields = { [0x0080] = "application/pkix-cert", [0x0081] = "application/pkix-crl" }

local links = { [1] = "host-ap", [2] = "ap-ta", [3] = "sm-tp-bus", [4] = "broadcast", [5] = "events" }
local parties = { [0] = "TA", [1] = "SM", [2] = "TP", [3] = "AP", [4] = "CAS" }
local frame_kinds = {
  [0x01] = "message", [0x02] = "hello", [0x03] = "welcome", [0x04] = "ping", [0x05] = "ack",
  [0x06] = "crl_request", [0x07] = "crl", [0x7f] = "error",
}
local profiles = { [0x01] = "koo2010", [0x02] = "hardened1" }
local presence_values = { [0] = "left the network", [1] = "present" }
local result_values = { [0] = "refused", [1] = "paired" }

local tf = {
  version = ProtoField.uint8("dcas_trace.version", "Record version"),
  link = ProtoField.uint8("dcas_trace.link", "Link", base.DEC, links),
  from = ProtoField.uint8("dcas_trace.from", "From", base.DEC, parties),
  to = ProtoField.uint8("dcas_trace.to", "To", base.DEC, parties),
  event = ProtoField.string("dcas_trace.event", "Event"),
}
dcas_trace.fields = { tf.version, tf.link, tf.from, tf.to, tf.event }

local f = {
  frame_length = ProtoField.uint32("dcas.frame.length", "Frame length"),
  frame_kind = ProtoField.uint8("dcas.frame.kind", "Frame kind", base.HEX, frame_kinds),
  frame_stream = ProtoField.uint64("dcas.frame.stream", "Stream (the AP's session)"),
  frame_error = ProtoField.uint16("dcas.frame.error", "Error", base.DEC, error_names),
  frame_error_detail = ProtoField.string("dcas.frame.error_detail", "Error detail"),
  frame_certificate = ProtoField.bytes("dcas.frame.certificate", "AP certificate (DER)"),
  frame_crl = ProtoField.bytes("dcas.frame.crl", "CRL (DER)"),
  version = ProtoField.uint8("dcas.version", "Version"),
  profile = ProtoField.uint8("dcas.profile", "Profile", base.HEX, profiles),
  type = ProtoField.uint8("dcas.type", "Type", base.HEX, message_types),
  flags = ProtoField.uint8("dcas.flags", "Flags", base.HEX),
  body_length = ProtoField.uint32("dcas.body_length", "Body length"),
  field = ProtoField.none("dcas.field", "Field"),
  tag = ProtoField.uint16("dcas.field.tag", "Tag", base.HEX, field_names, 0x7fff),
  ignorable = ProtoField.bool("dcas.field.ignorable", "Ignorable", 16, nil, 0x8000),
  field_length = ProtoField.uint16("dcas.field.length", "Length"),
  unknown = ProtoField.bytes("dcas.field.unknown", "Unknown field value"),
}
local named = {}  -- one filterable field per registered tag: dcas.sm_id, dcas.signature, ...
for tag, name in pairs(field_names) do
  if integer_fields[tag] then
    named[tag] = ProtoField.uint64("dcas." .. name, name)
  elseif tag == 0x0023 then
    named[tag] = ProtoField.uint8("dcas." .. name, name, base.HEX, presence_values)
  elseif tag == 0x003a then
    named[tag] = ProtoField.uint8("dcas." .. name, name, base.HEX, result_values)
  else
    named[tag] = ProtoField.bytes("dcas." .. name, name)
  end
end
do
  local all = {}
  for _, v in pairs(f) do all[#all + 1] = v end
  for _, v in pairs(named) do all[#all + 1] = v end
  dcas.fields = all
end

local malformed = ProtoExpert.new("dcas.malformed", "Malformed DCAS data", expert.group.MALFORMED, expert.severity.ERROR)
local refused = ProtoExpert.new("dcas.refused", "Error frame: a request was refused", expert.group.RESPONSE_CODE,
                                expert.severity.WARN)
dcas.experts = { malformed, refused }

local function pkix(media_type)
  local table = DissectorTable.get("media_type")
  return table and table:get_dissector(media_type)
end
local json = Dissector.get("json")

local dissect_message

local function add_value(tvb, pinfo, tree, tag, offset, length)
  local range = tvb(offset, length)
  local field = named[tag]
  if not field then return tree:add(f.unknown, range) end
  local item = tree:add(field, range)
  local scale = time_fields[tag]
  if scale and length == 8 then
    item:append_text(os.date("! (%Y-%m-%d %H:%M:%S UTC)", (range:uint64() / scale):tonumber()))
  end
  if nested_fields[tag] and length >= 8 then
    dissect_message(range:tvb(), pinfo, item)
  elseif pkix_fields[tag] then
    local x509 = pkix(pkix_fields[tag])
    if x509 then x509:call(range:tvb(), pinfo, item) end
  end
  return item
end

-- One wire message (§6): the 8-byte header, then each field. Returns its type, or nil.
dissect_message = function(tvb, pinfo, tree)
  local length = tvb:len()
  local root = tree:add(dcas, tvb(), "DCAS message")
  if length < 8 then
    root:add_proto_expert_info(malformed, "shorter than the 8-byte header")
    return nil
  end
  local type = tvb(2, 1):uint()
  root:add(f.version, tvb(0, 1))
  root:add(f.profile, tvb(1, 1))
  root:add(f.type, tvb(2, 1))
  root:add(f.flags, tvb(3, 1))
  root:add(f.body_length, tvb(4, 4))
  root:set_text("DCAS " .. (message_types[type] or string.format("message type 0x%02x", type)))
  local body_end = math.min(8 + tvb(4, 4):uint(), length)
  if 8 + tvb(4, 4):uint() ~= length then
    root:add_proto_expert_info(malformed, "the body length is not the message's")
  end
  local offset = 8
  while offset < body_end do
    if body_end - offset < 4 then
      root:add_proto_expert_info(malformed, "a field header runs past the body")
      break
    end
    local raw_tag = tvb(offset, 2):uint()
    local value_length = tvb(offset + 2, 2):uint()
    local tag = bit.band(raw_tag, 0x7fff)
    local name = field_names[raw_tag] or string.format("unknown field 0x%04x", raw_tag)
    if offset + 4 + value_length > body_end then
      local item = root:add(f.field, tvb(offset, body_end - offset), name)
      item:add_proto_expert_info(malformed, "the field runs past the body")
      break
    end
    local item = root:add(f.field, tvb(offset, 4 + value_length))
    item:set_text(string.format("%s (%d bytes)", name, value_length))
    item:add(f.tag, tvb(offset, 2))
    item:add(f.ignorable, tvb(offset, 2))
    item:add(f.field_length, tvb(offset + 2, 2))
    if value_length > 0 then
      if field_names[raw_tag] then
        add_value(tvb, pinfo, item, raw_tag, offset + 4, value_length)
      else
        item:add(f.unknown, tvb(offset + 4, value_length))
      end
    end
    offset = offset + 4 + value_length
  end
  return type
end

-- One link frame (§13.1): u32 length | u8 kind | u64 stream | payload. Returns a summary.
local function dissect_frame(tvb, pinfo, tree)
  local root = tree:add(dcas, tvb(), "DCAS link frame")
  if tvb:len() < 13 then
    root:add_proto_expert_info(malformed, "shorter than the 13-byte frame header")
    return "malformed frame"
  end
  local kind = tvb(4, 1):uint()
  root:add(f.frame_length, tvb(0, 4))
  root:add(f.frame_kind, tvb(4, 1))
  root:add(f.frame_stream, tvb(5, 8))
  local kind_name = frame_kinds[kind] or string.format("kind 0x%02x", kind)
  root:set_text("DCAS link frame: " .. kind_name)
  local payload = tvb:len() > 13 and tvb(13) or nil
  if kind == 0x01 and payload then
    local type = dissect_message(payload:tvb(), pinfo, root)
    return type and (message_types[type] or string.format("message type 0x%02x", type)) or "malformed message"
  elseif kind == 0x7f and payload and payload:len() >= 2 then
    local code = payload(0, 2):uint()
    root:add(f.frame_error, payload(0, 2))
    if payload:len() > 2 then root:add(f.frame_error_detail, payload(2)) end
    root:add_proto_expert_info(refused, error_names[code] or tostring(code))
    return "error: " .. (error_names[code] or tostring(code))
  elseif kind == 0x02 and payload then
    local item = root:add(f.frame_certificate, payload)
    local x509 = pkix("application/pkix-cert")
    if x509 then x509:call(payload:tvb(), pinfo, item) end
  elseif kind == 0x07 and payload then
    local item = root:add(f.frame_crl, payload)
    local x509 = pkix("application/pkix-crl")
    if x509 then x509:call(payload:tvb(), pinfo, item) end
  end
  return kind_name
end

function dcas_trace.dissector(tvb, pinfo, tree)
  if tvb:len() < 4 then return 0 end
  local root = tree:add(dcas_trace, tvb(0, 4))
  local link, from, to = tvb(1, 1):uint(), tvb(2, 1):uint(), tvb(3, 1):uint()
  root:add(tf.version, tvb(0, 1))
  root:add(tf.link, tvb(1, 1))
  root:add(tf.from, tvb(2, 1))
  root:add(tf.to, tvb(3, 1))
  local route = (parties[from] or "?") .. " -> " .. (parties[to] or "?")
  root:set_text(string.format("DCAS trace record: %s, %s", links[link] or "unknown link", route))
  local what = ""
  if tvb:len() > 4 then
    local rest = tvb(4):tvb()
    if link == 1 or link == 2 then
      what = dissect_frame(rest, pinfo, tree)
    elseif link == 3 or link == 4 then
      local type = dissect_message(rest, pinfo, tree)
      what = type and (message_types[type] or string.format("message type 0x%02x", type)) or "malformed message"
    elseif link == 5 then
      local text = rest:raw()
      local event = string.match(text, '"event"%s*:%s*"([%w_]+)"') or "?"
      root:add(tf.event, tvb(4), event)
      if json then json:call(rest, pinfo, tree) end
      what = "event " .. event
      route = "at " .. (parties[from] or "?")
    end
  end
  pinfo.cols.protocol = "DCAS"
  pinfo.cols.info = string.format("[%s] %s %s", links[link] or "?", route, what)
  return tvb:len()
end

-- A live capture of a host-AP connection (plain TCP): Decode As... -> DCAS.
local function frame_length(tvb, pinfo, offset)
  return tvb(offset, 4):uint() + 4
end
local function dissect_one(tvb, pinfo, tree)
  pinfo.cols.protocol = "DCAS"
  pinfo.cols.info = dissect_frame(tvb, pinfo, tree)
  return tvb:len()
end
function dcas.dissector(tvb, pinfo, tree)
  dissect_tcp_pdus(tvb, tree, 13, frame_length, dissect_one)
  return tvb:len()
end
DissectorTable.get("tcp.port"):add_for_decode_as(dcas)
