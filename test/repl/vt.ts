// A very small terminal emulator for the end-to-end tests: enough of the
// VT100 controls Ink uses (cursor up/down/column, erase line/screen) to
// turn what `tsnix repl` wrote into the lines a user would see.

export class Screen {
  lines: string[] = [''];
  row = 0;
  col = 0;
  raw = '';

  constructor(readonly width = 100) {}

  private put(ch: string): void {
    if (this.col >= this.width) {
      this.row++;
      this.col = 0;
    }
    while (this.lines.length <= this.row) this.lines.push('');
    const l = this.lines[this.row]!.padEnd(this.col);
    this.lines[this.row] = l.slice(0, this.col) + ch + l.slice(this.col + 1);
    this.col++;
  }

  write(data: string): void {
    this.raw += data;
    for (let i = 0; i < data.length; i++) {
      const ch = data[i]!;
      if (ch === '\x1b') {
        const csi = /^\x1b\[([?0-9;]*)([ -/]*)([@-~])/.exec(data.slice(i));
        if (csi) {
          i += csi[0].length - 1;
          const n = Number(csi[1]!.split(';')[0] || '0');
          switch (csi[3]) {
            case 'A':
              this.row = Math.max(0, this.row - (n || 1));
              break;
            case 'B':
              this.row += n || 1;
              break;
            case 'C':
              this.col += n || 1;
              break;
            case 'D':
              this.col = Math.max(0, this.col - (n || 1));
              break;
            case 'G':
              this.col = Math.max(0, (n || 1) - 1);
              break;
            case 'K':
              while (this.lines.length <= this.row) this.lines.push('');
              if (n === 2) this.lines[this.row] = '';
              else if (n === 0) this.lines[this.row] = this.lines[this.row]!.slice(0, this.col);
              break;
            case 'J':
              if (n === 2 || n === 3) {
                this.lines = [''];
                this.row = 0;
                this.col = 0;
              } else if (n === 0) this.lines.length = this.row + 1;
              break;
            case 'H':
              this.row = 0;
              this.col = 0;
              break;
          }
          continue;
        }
        const osc = /^\x1b\][^\x07]*\x07/.exec(data.slice(i));
        if (osc) {
          i += osc[0].length - 1;
          continue;
        }
        i++; // a two-character escape
        continue;
      }
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') {
        this.row++;
        while (this.lines.length <= this.row) this.lines.push('');
      } else if (ch === '\b') this.col = Math.max(0, this.col - 1);
      else if (ch >= ' ') this.put(ch);
    }
  }

  text(): string {
    return this.lines.map((l) => l.trimEnd()).join('\n').replace(/\n+$/, '');
  }
}
