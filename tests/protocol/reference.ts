// The videocall messages of PROTOCOL.md for protobufjs, a full protobuf implementation: the
// reference our codec is checked against, and the way tests build "existing server" bytes.
import protobuf from 'protobufjs';

export const PROTO = `
syntax = "proto3";
enum PacketType { UNKNOWN = 0; RSA_PUB_KEY = 1; AES_KEY = 2; MEDIA = 3; CONNECTION = 4; DIAGNOSTICS = 5; HEALTH = 6; MEETING = 7; SESSION_ASSIGNED = 8; CONGESTION = 9; }
message PacketWrapper { PacketType packet_type = 1; bytes user_id = 2; bytes data = 3; uint64 session_id = 4; }
// The same message as a newer peer might send it: fields we do not know about.
message PacketWrapperNext {
  PacketType packet_type = 1; bytes user_id = 2; bytes data = 3; uint64 session_id = 4;
  string note = 5; fixed32 f32 = 6; fixed64 f64 = 7; uint64 big = 15; bytes blob = 1000; sint64 signed = 99;
}
enum MediaType { M_UNKNOWN = 0; VIDEO = 1; AUDIO = 2; SCREEN = 3; HEARTBEAT = 4; RTT = 5; KEYFRAME_REQUEST = 6; }
message Meta { uint32 x = 1; string y = 2; }
message MediaPacket {
  MediaType media_type = 1; bytes user_id = 2; bytes data = 3; string frame_type = 4; double timestamp = 5; double duration = 6;
  Meta audio_metadata = 7; Meta video_metadata = 8; Meta heartbeat_metadata = 9;
}
message MeetingPacket {
  int32 event_type = 1; string room_id = 2; uint64 start_time_ms = 3; string message = 4; bytes creator_id = 5;
  int64 participant_count = 6; bytes target_user_id = 7; string room_token = 8; uint64 session_id = 9; bytes display_name = 10;
}
`;
export const root = protobuf.parse(PROTO, { keepCase: true }).root;
export const PW = root.lookupType('PacketWrapper');
export const PWNext = root.lookupType('PacketWrapperNext');
export const MP = root.lookupType('MediaPacket');
export const MTG = root.lookupType('MeetingPacket');

// protobufjs represents 64-bit fields with the `long` package it bundles.
export const LongCtor = protobuf.util.Long as unknown as { fromString(text: string, unsigned?: boolean): object };
export const long = (v: bigint) => LongCtor.fromString(v.toString(10), true);
