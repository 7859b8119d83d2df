import { start } from './app.ts';

void start(document.getElementById('app')!);
