/**
 * Plain-data descriptions of JPEG 2000 files, shared by every layer. Everything here is JSON-safe
 * (numbers, strings, arrays, plain objects) so it can be written to the index cache file and posted
 * between threads. Field names follow ISO/IEC 15444-1 (T.800) Annex A and 15444-2 Annex M.
 * All offsets are absolute byte positions in the file that holds the data (64-bit safe JS numbers).
 */

/** A marker segment located in a file: `offset` is the position of its 0xFFxx marker code. */
export interface MarkerSegment {
  /** Marker code, e.g. 0xff52 for COD. */
  code: number;
  /** File offset of the marker code. */
  offset: number;
  /** Total bytes including the 2-byte marker code (2 + Lxxx; 2 for markers without a segment). */
  length: number;
}

/** One component as described by SIZ (15444-1 A.5.1). */
export interface SizComponent {
  /** Bit depth (Ssiz & 0x7f) + 1. */
  precision: number;
  /** Ssiz bit 7. */
  signed: boolean;
  XRsiz: number;
  YRsiz: number;
}

/** SIZ marker segment (15444-1 A.5.1). */
export interface Siz {
  Rsiz: number;
  Xsiz: number;
  Ysiz: number;
  XOsiz: number;
  YOsiz: number;
  XTsiz: number;
  YTsiz: number;
  XTOsiz: number;
  YTOsiz: number;
  Csiz: number;
  components: SizComponent[];
}

/** Progression orders, values of SGcod / Ppoc (15444-1 Table A.16). */
export const enum Progression {
  LRCP = 0,
  RLCP = 1,
  RPCL = 2,
  PCRL = 3,
  CPRL = 4,
}

/** Precinct size exponents for one resolution level (15444-1 A.6.1, Table A.21). */
export interface PrecinctSize {
  PPx: number;
  PPy: number;
}

/**
 * Coding style of one tile-component after COD/COC precedence has been applied
 * (15444-1 A.6.1: tile COC > tile COD > main COC > main COD).
 */
export interface ComponentCodingStyle {
  /** Scod/Scoc bit 0: user-defined precincts. */
  userPrecincts: boolean;
  /** Number of decomposition levels NL (SPcod/SPcoc). */
  NL: number;
  /** Code-block width exponent xcb (already +2, i.e. 2^xcb samples). */
  xcb: number;
  /** Code-block height exponent ycb (already +2). */
  ycb: number;
  /** Code-block style byte. */
  cbStyle: number;
  /** Wavelet transform: 0 = 9-7 irreversible, 1 = 5-3 reversible (Table A.20). */
  transform: number;
  /** PPx/PPy for r = 0..NL; 15/15 everywhere when userPrecincts is false. */
  precincts: PrecinctSize[];
}

/** Codestream-wide fields of COD (15444-1 A.6.1) that are not per component. */
export interface CodingStyleDefault {
  /** Scod bit 1: SOP marker segments may be used. */
  sop: boolean;
  /** Scod bit 2: EPH markers are used. */
  eph: boolean;
  progression: Progression;
  /** Number of quality layers. */
  layers: number;
  /** Multiple component transform (0 none, 1 used). */
  mct: number;
}

/** One progression-order change (15444-1 A.6.6); end values are exclusive as in the standard. */
export interface Poc {
  RSpoc: number;
  CSpoc: number;
  LYEpoc: number;
  REpoc: number;
  CEpoc: number;
  Ppoc: Progression;
}

/** A PLT marker segment's packet-length list (15444-1 A.7.3): bytes [offset, offset+length) are Iplt. */
export interface PltRange {
  Zplt: number;
  offset: number;
  length: number;
}

/** One tile-part (15444-1 A.4.2). */
export interface TilePart {
  /** Isot: tile index. */
  Isot: number;
  /** TPsot: tile-part index. */
  TPsot: number;
  /** TNsot: number of tile-parts of the tile (0 = unknown). */
  TNsot: number;
  /** File offset of the SOT marker. */
  sotOffset: number;
  /** File offset of the first byte after the SOD marker (start of packet data). */
  dataOffset: number;
  /** File offset one past the last byte of packet data. */
  dataEnd: number;
  /** Marker segments between SOT and SOD, in file order, excluding SOT and SOD themselves. */
  segments: MarkerSegment[];
  /** PLT lists of this tile-part in Zplt order. */
  plt: PltRange[];
}

/** Where one codestream lies and what its headers say. */
export interface CodestreamLayout {
  /**
   * Set when this codestream of a JPX cannot be served (its scan failed): the error its requests get.
   * The other fields are then a placeholder (copied from a servable sibling) and must not be used.
   */
  broken?: { code: string; message: string };
  /** File offset of SOC. */
  offset: number;
  /** File offset one past EOC (or the end of the containing box when EOC is absent). */
  end: number;
  /** Main header: SOC up to (excluding) the first SOT. */
  mainHeader: { offset: number; length: number };
  /** Marker segments of the main header in file order (SOC included, length 2). */
  mainSegments: MarkerSegment[];
  siz: Siz;
  cod: CodingStyleDefault;
  /** Main-header coding style per component (COD with COC overrides applied). */
  components: ComponentCodingStyle[];
  /** Main-header POC entries in order. */
  pocs: Poc[];
  /** Every tile-part in file order. */
  tileParts: TilePart[];
  /** Per tile (index = tile index), overrides found in that tile's tile-part headers. */
  tiles: TileOverrides[];
}

/** Coding-parameter overrides of one tile (15444-1 A.4.2: COD/COC in the first tile-part, POC in any). */
export interface TileOverrides {
  /** Present when the tile's first tile-part header has a COD. */
  cod?: CodingStyleDefault;
  /** Per component coding style for this tile, when any COD/COC override exists for the tile. */
  components?: ComponentCodingStyle[];
  /** POC entries of the tile's tile-part headers, in order; when present they replace the main-header POC. */
  pocs?: Poc[];
}

/** Geometry of one resolution level of one tile-component (15444-1 B.5, B.6). */
export interface ResolutionGeometry {
  /** Resolution level r (0 = lowest). */
  r: number;
  /** Bounds on the resolution grid: trx0 = ceil(tcx0 / 2^(NL-r)), ... (half-open). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  PPx: number;
  PPy: number;
  /** Precinct columns and rows (0 when the resolution is empty). */
  npx: number;
  npy: number;
  /** Sequence number s of this resolution's first precinct within the tile-component (notes §5). */
  precinctBase: number;
}

/** Geometry of one tile-component (15444-1 B.3). */
export interface TileComponentGeometry {
  c: number;
  /** Bounds on the component grid: tcx0 = ceil(tx0 / XRsiz), ... (half-open). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  XRsiz: number;
  YRsiz: number;
  style: ComponentCodingStyle;
  /** r = 0..NL. */
  resolutions: ResolutionGeometry[];
  /** Total precincts over all resolutions. */
  precinctCount: number;
}

/** Geometry and coding parameters of one tile (15444-1 B.3). */
export interface TileGeometry {
  /** Tile index t (raster order). */
  t: number;
  /** Bounds on the reference grid (half-open). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  layers: number;
  progression: Progression;
  /** POC entries in force for this tile (tile ones replace main ones), possibly empty. */
  pocs: Poc[];
  components: TileComponentGeometry[];
}

/**
 * Packets of one tile in the order they appear in the codestream (15444-1 B.12), as parallel arrays.
 * `precinct` is the raster index p = py * npx + px inside (tile, component, resolution).
 */
export interface PacketOrder {
  length: number;
  layer: Uint16Array;
  resolution: Uint8Array;
  component: Uint16Array;
  precinct: Uint32Array;
}

/** Kind of a served target: raw codestream, JP2 (one jp2c) or JPX (15444-2 Annex M). */
export type TargetKind = 'raw' | 'jp2' | 'jpx';

/** A box located in a file (15444-1 I.4). */
export interface BoxRef {
  /** TBox as 4 characters, e.g. 'jp2c'. */
  type: string;
  /** File offset of the box (its LBox field). */
  offset: number;
  /** 8, or 16 when the XLBox field is present. */
  headerLength: number;
  /** Total box length including the header. */
  length: number;
}

/**
 * One item of metadata-bin 0 (notes §4.4): a verbatim file range, a placeholder for a codestream box
 * (jp2c, or ftbl in a hyperlinked JPX), or a box the server rewrote (`hex` holds its new bytes; used
 * for a data-reference box whose absolute URLs must not reach clients).
 */
export type MetadataItem =
  | { kind: 'inline'; offset: number; length: number }
  | { kind: 'phld'; codestream: number; box: BoxRef }
  | { kind: 'meta'; bin: number; box: BoxRef }
  | { kind: 'rewritten'; box: BoxRef; hex: string };

/**
 * A metadata-bin other than bin 0 (15444-9 A.3.6): the contents (body) of one top-level content box
 * (xml, asoc, uuid, uinf), replaced in bin 0 by a placeholder that names this bin.
 */
export interface MetadataBin {
  id: number;
  box: BoxRef;
}

/**
 * A codestream of a hyperlinked JPX (15444-2 M.11.3.1 fragment table, M.11.3.2 fragment list,
 * M.11.3.3 data reference): `length` bytes at `offset` of the file named by data reference `dr`.
 * `url` is the URL as stored; `rel` is set once the server resolved it to a file inside the image
 * root, or `error` says why this frame cannot be served (the other frames still can).
 */
export interface LinkedCodestream {
  ftbl: BoxRef;
  url: string;
  dr: number;
  offset: number;
  length: number;
  rel?: string;
  error?: { code: string; message: string };
}

/** Everything the server needs to know about a target file's layout. */
export interface TargetLayout {
  kind: TargetKind;
  /** File size in bytes. */
  size: number;
  /** Top-level boxes in file order (empty for a raw codestream). */
  boxes: BoxRef[];
  /** Codestreams numbered in the physical order of their top-level jp2c boxes (notes §4.5); [] for a hyperlinked JPX. */
  codestreams: CodestreamLayout[];
  /** Hyperlinked JPX: one entry per codestream, in the physical order of the ftbl boxes. */
  links?: LinkedCodestream[];
  /** The jp2c box of each codestream; null for a raw codestream. */
  codestreamBoxes: (BoxRef | null)[];
  /** Metadata-bin 0: all top-level boxes in order, codestream and content boxes replaced by placeholders; [] for raw. */
  metadata: MetadataItem[];
  /** Metadata-bins 1.. (content boxes), in file order. */
  metadataBins?: MetadataBin[];
  /**
   * JPX compositing layers (one per jplh box, in order): the codestreams each layer uses, from its
   * codestream registration box (creg), or [i] for layer i without one (15444-2 M.11.10, M.11.11).
   */
  layers?: number[][];
}
