# Multi-stage build: compile TypeScript, then ship dist/, flows/ and locales/ (data, not code) with
# production dependencies only, running as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && cp src/simulator/index.html dist/simulator/index.html && cp src/admin/console.html dist/admin/console.html && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=3000 FLOWS_DIR=/app/flows LOCALES_DIR=/app/locales
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY flows ./flows
COPY locales ./locales
RUN chown -R node:node /app
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
ENTRYPOINT ["node", "bin/kiunga.js"]
CMD ["serve"]
