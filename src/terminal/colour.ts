// Colour only for a person at a terminal: never into a pipe, never with NO_COLOR (no-color.org)
// or TERM=dumb.

export function useColour(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (!isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

const SGR = { bold: '1', red: '31', green: '32', yellow: '33', blue: '34', grey: '90' } as const;
export type Colour = keyof typeof SGR;

/** `text` in the colour when `on`, unchanged otherwise. */
export function paint(on: boolean, colour: Colour, text: string): string {
  return on ? `\x1b[${SGR[colour]}m${text}\x1b[0m` : text;
}
