/**
 * The viewer's state as the page exposes it on `window.jpipd` (main.ts), for tests and scripts; the
 * browser tests read the same type. No DOM types: Node code may import it.
 */
/** What the page shows. */
export interface ViewerState {
  image: string | null;
  /** Full image size (resolution 0 discarded levels). */
  size: [number, number] | null;
  /** Discarded resolution levels of the view. */
  level: number;
  fsiz: [number, number];
  roff: [number, number];
  rsiz: [number, number];
  bytes: number;
  responses: number;
  complete: boolean;
  error: string | null;
  transport: 'websocket' | 'http';
  /** The frame (codestream) shown, and how many the image has. */
  frame: number;
  frames: number;
  /** The XML of the frame shown ('' when it has none). */
  meta: string;
  playing: boolean;
  /** Frames per second actually shown while playing (over the last ten frames). */
  fpsShown: number;
  /** Shows frame f in the current view (tests); resolves when it is complete. */
  frameTo(f: number): Promise<void>;
  /** Moves the view (tests); resolves when the new view is complete. */
  view(level: number, x: number, y: number): Promise<void>;
}
