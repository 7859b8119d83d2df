import { start } from './boot.ts';

void start(document.getElementById('app')!);
